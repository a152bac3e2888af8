//! Fault injection for tests (cargo feature `fault-injection`, off by default and never in the
//! binary `make install` ships): a job whose input starts with [`PANIC_MAGIC`] panics on
//! purpose, so an integration test can prove that a panicking job is answered `internal` and
//! the daemon keeps serving everyone else.

/// Inputs (`resize` image, `checksum` data) starting with these bytes make the job panic.
pub const PANIC_MAGIC: &[u8] = b"FERRY-FAULT:panic";

/// Panics when `input` starts with [`PANIC_MAGIC`]; `op` names the job in the panic message.
pub fn panic_on_magic(input: &[u8], op: &str) {
    if input.starts_with(PANIC_MAGIC) {
        panic!("fault injection: {op} input starts with the panic magic");
    }
}
