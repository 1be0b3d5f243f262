//! Link user programs with user/user.ld (static, non-PIE, at 0x400000 like Linux's
//! default ET_EXEC base).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg-bins=-T{dir}/user.ld");
    println!("cargo:rerun-if-changed=user.ld");
}
