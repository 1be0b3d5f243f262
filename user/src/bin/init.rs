//! Placeholder init: replaced by the fork demo.
#![no_std]
#![no_main]

use forkos_user::{entry, println, sys};

fn main(_args: &[&str]) -> i32 {
    println!("init: pid {}", sys::getpid());
    0
}
entry!(main);
