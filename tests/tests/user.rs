//! EL0 tests: each boots forkos with the user program `utest` as pid 1 running one test
//! (`user/src/bin/utest/`). A test passes when init exits with status 0 after printing
//! `utest NAME: ok`. The same programs pass on real Linux 6.1 (scripts/run-on-linux).

use forkos_tests::Boot;

fn utest(name: &str) {
    let run = Boot::utest(name).run();
    run.expect(&format!("utest {name}: ok")).expect_status(0);
}

macro_rules! user_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                utest(stringify!($name));
            }
        )*
    };
}

user_tests!(hello);
