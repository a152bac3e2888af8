//! The standard `process_*` metrics, from `/proc/self` (readable under `ProcSubset=pid`):
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
//! `process_cpu_seconds_total` (user + system), `process_open_fds`, `process_threads`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use super::collector::gauge;

/// Reads `/proc/self/stat` and `/proc/self/fd` at scrape time.
#[derive(Debug)]
pub struct ProcessCollector;

/// Figures from `/proc/self/stat`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessStat {
    /// User plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Virtual memory size, bytes.
    pub virtual_bytes: u64,
    /// Resident set size, bytes.
    pub resident_bytes: u64,
    /// Threads.
    pub threads: u64,
}

/// Parses the text of `/proc/self/stat` (proc(5)): fields after the `)` that ends the command
/// name, which may itself contain spaces and parentheses.
pub fn parse_stat(text: &str, ticks_per_second: f64, page_size: u64) -> Option<ProcessStat> {
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field numbers of proc(5), minus 3 (pid, comm, and 1-based counting).
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(ProcessStat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks_per_second,
        threads: field(20)?,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
    })
}

fn read() -> Option<ProcessStat> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // SAFETY: sysconf only reads configuration values.
    let (ticks, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    parse_stat(&text, ticks.max(1) as f64, page.max(1) as u64)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(stat) = read() {
            let cpu = ConstCounter::new(stat.cpu_seconds);
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, seconds",
                None,
                cpu.metric_type(),
            )?)?;
            let resident = i64::try_from(stat.resident_bytes).unwrap_or(i64::MAX);
            gauge(&mut encoder, "process_resident_memory_bytes", "Resident memory size in bytes", resident)?;
            let virt = i64::try_from(stat.virtual_bytes).unwrap_or(i64::MAX);
            gauge(&mut encoder, "process_virtual_memory_bytes", "Virtual memory size in bytes", virt)?;
            gauge(&mut encoder, "process_threads", "OS threads", stat.threads as i64)?;
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            gauge(&mut encoder, "process_open_fds", "Open file descriptors", dir.count() as i64)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let text = "4242 (ferryd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 \
                    104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let stat = parse_stat(text, 100.0, 4096).unwrap();
        assert_eq!(stat.cpu_seconds, 3.0);
        assert_eq!(stat.threads, 9);
        assert_eq!(stat.virtual_bytes, 104_857_600);
        assert_eq!(stat.resident_bytes, 2560 * 4096);
        assert!(read().is_some_and(|s| s.resident_bytes > 0));
    }
}
