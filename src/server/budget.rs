//! The memory budget: one number of bytes that everything a request makes the daemon hold is
//! counted against, so that no peer, request or overload takes the process past it.
//!
//! What holds a [`Reservation`]:
//! - a frame being read ([`FrameHold`]), for what its buffer may hold: a first slice when the
//!   4-byte prefix is in, then more before each growth of its buffer, within the fair shares of
//!   [`super::shares`];
//! - an admitted job, for its estimate from the image header (`jobs::resize::estimate_memory`:
//!   decode, resize and encode buffers) or its payload (checksum), plus its request frame;
//! - a reply not yet written, for its encoded length.
//!
//! Frames and jobs are refused when the budget cannot cover them now (the connection stops
//! reading until memory is freed; a job is answered `busy`, or `too_large_for_budget` when it
//! exceeds what jobs may ever hold: the budget less the small-frame reserve). Replies are always reserved, even past the limit: the job that
//! made them was admitted under its own estimate, and what they hold is bounded per connection
//! (`connection`), so they push the budget over only briefly and new work waits until written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::shares::{FrameShares, SharePolicy, FIRST_SLICE};

/// Bytes the daemon may hold for requests; shared by every connection and job.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
    /// Woken whenever a reservation or a frame's share is released, for connections that
    /// stopped reading until their frame can grow.
    freed: Notify,
    /// What frames being read hold, against their caps.
    shares: FrameShares,
}

/// Why a reservation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Not now: other holders would have to release memory first (`busy`).
    Full,
    /// Never: more than the whole budget (`too_large_for_budget`).
    Never,
}

/// A share of the budget, returned when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, nothing used, without a small-frame reserve (one connection's
    /// reply allowance, unit tests).
    pub fn new(limit: u64) -> Arc<Self> {
        MemoryBudget::for_frames(limit, limit)
    }

    /// A budget of `limit` bytes shared by frames of up to `max_frame` bytes under the fair
    /// shares of [`super::shares`].
    pub fn for_frames(limit: u64, max_frame: u64) -> Arc<Self> {
        let shares = FrameShares::new(SharePolicy::new(limit, max_frame));
        Arc::new(MemoryBudget { limit, used: AtomicU64::new(0), freed: Notify::new(), shares })
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The most jobs (and large frames) may hold: the limit less the small-frame reserve.
    pub fn job_limit(&self) -> u64 {
        self.limit - self.shares.policy().small_reserve
    }

    /// The fair-share caps.
    pub fn policy(&self) -> &SharePolicy {
        self.shares.policy()
    }

    /// Bytes that large frames being read hold now.
    pub fn frames_used(&self) -> u64 {
        self.shares.total()
    }

    /// Bytes reserved now (may briefly exceed the limit; see the module docs on replies).
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes` for a job if they fit beside what is held now, leaving the small-frame
    /// reserve alone; `Never` when they exceed [`MemoryBudget::job_limit`].
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Result<Reservation, Shortfall> {
        let ceiling = self.job_limit();
        if bytes > ceiling {
            return Err(Shortfall::Never);
        }
        self.try_reserve_below(bytes, ceiling)
    }

    /// Reserves `bytes` if the total stays within `ceiling`.
    fn try_reserve_below(self: &Arc<Self>, bytes: u64, ceiling: u64) -> Result<Reservation, Shortfall> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if bytes > ceiling.saturating_sub(used) {
                return Err(Shortfall::Full);
            }
            match self.used.compare_exchange_weak(used, used + bytes, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok(Reservation { budget: Arc::clone(self), bytes }),
                Err(now) => used = now,
            }
        }
    }

    /// Reserves `bytes` whatever is held (replies; see the module docs).
    pub fn reserve_anyway(self: &Arc<Self>, bytes: u64) -> Reservation {
        self.used.fetch_add(bytes, Ordering::AcqRel);
        Reservation { budget: Arc::clone(self), bytes }
    }

    /// A future that completes when some reservation is released after this call. Take it
    /// *before* trying to reserve, then await it if the attempt failed, so no release is missed.
    pub fn freed(&self) -> tokio::sync::futures::Notified<'_> {
        self.freed.notified()
    }

    /// The first slice of a frame of `len` bytes from a peer of `uid`, reserved when its prefix
    /// arrives: all of it for a small frame (`len <= FIRST_SLICE`, which may use the
    /// small-frame reserve), else [`FIRST_SLICE`] within the frames' fair shares.
    pub fn begin_frame(self: &Arc<Self>, uid: u32, len: u64) -> Option<FrameHold> {
        if len <= FIRST_SLICE {
            let held = self.try_reserve_below(len, self.limit).ok()?;
            return Some(FrameHold { held: Some(held), uid, len, counted: 0 });
        }
        let mut hold = FrameHold { held: Some(self.reserve_anyway(0)), uid, len, counted: 0 };
        self.try_grow_frame(&mut hold, FIRST_SLICE).then_some(hold)
    }

    /// Grows a frame's reservation by `more` bytes, if the budget and the frames' fair shares
    /// allow; `false` leaves it as it was.
    pub fn try_grow_frame(self: &Arc<Self>, hold: &mut FrameHold, more: u64) -> bool {
        if !self.shares.try_grow(hold.uid, hold.len, more) {
            return false;
        }
        match self.try_reserve_below(more, self.job_limit()) {
            Ok(extra) => {
                hold.counted += more;
                hold.held.as_mut().expect("held until the frame is done").merge(extra);
                true
            }
            Err(_) => {
                self.shares.release(hold.uid, more);
                false
            }
        }
    }
}

/// A frame being read: its reservation, and the bytes of it counted in the frames' fair shares.
/// Dropping it returns both; [`FrameHold::into_reservation`] ends the frame's share and keeps
/// the memory reserved for the request it became.
#[derive(Debug)]
pub struct FrameHold {
    held: Option<Reservation>,
    uid: u32,
    len: u64,
    counted: u64,
}

impl FrameHold {
    /// Bytes reserved.
    pub fn bytes(&self) -> u64 {
        self.held.as_ref().map_or(0, Reservation::bytes)
    }

    /// The frame is complete: its bytes stop counting as a frame being read.
    pub fn into_reservation(mut self) -> Reservation {
        self.end_share();
        self.held.take().expect("held until the frame is done")
    }

    fn end_share(&mut self) {
        if let Some(held) = &self.held {
            if self.counted > 0 {
                held.budget.shares.release(self.uid, std::mem::take(&mut self.counted));
                held.budget.freed.notify_waiters();
            }
        }
    }
}

impl Drop for FrameHold {
    fn drop(&mut self) {
        self.end_share();
    }
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The budget this reservation is part of (a job that learns its estimate only after
    /// reading its input reserves the rest from it).
    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// Adds another reservation's bytes to this one (a frame joining its job).
    pub fn merge(&mut self, mut other: Reservation) {
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
            self.budget.freed.notify_waiters();
        }
    }
}

/// The default budget: half the memory limit of this process's cgroup (cgroup v2 `memory.max`)
/// when one is set, else a quarter of the machine's memory (`MemTotal`), else 1 GiB; and never
/// more than half of the address-space limit (`RLIMIT_AS`, `ulimit -v`) when one is set, since
/// the budget counts live bytes and the process also needs room for code, stacks and slack.
pub fn machine_default() -> u64 {
    let derived = match cgroup_memory_max() {
        Some(max) => max / 2,
        None => mem_total().map_or(1 << 30, |total| total / 4),
    };
    address_space_limit().map_or(derived, |limit| derived.min(limit / 2))
}

/// The soft `RLIMIT_AS`, if finite.
fn address_space_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) };
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur as u64)
}

/// `memory.max` of the cgroup v2 this process is in (`0::/path` in /proc/self/cgroup), if it
/// is a number (not `max`).
fn cgroup_memory_max() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership.lines().find_map(|line| line.strip_prefix("0::"))?;
    let file = format!("/sys/fs/cgroup{}/memory.max", path.trim_end_matches('/'));
    parse_memory_max(&std::fs::read_to_string(file).ok()?)
}

fn parse_memory_max(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok()
}

/// `MemTotal` from /proc/meminfo, in bytes.
fn mem_total() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total(&meminfo)
}

fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_or_are_refused_and_return_on_drop() {
        let budget = MemoryBudget::new(100);
        let a = budget.try_reserve(60).unwrap();
        assert_eq!(budget.try_reserve(41).unwrap_err(), Shortfall::Full);
        assert_eq!(budget.try_reserve(101).unwrap_err(), Shortfall::Never);
        let mut b = budget.try_reserve(40).unwrap();
        assert_eq!(budget.used(), 100);
        drop(a);
        let c = budget.try_reserve(10).unwrap();
        b.merge(c);
        assert_eq!((b.bytes(), budget.used()), (50, 50));
        let over = budget.reserve_anyway(80);
        assert_eq!(budget.used(), 130);
        assert_eq!(budget.try_reserve(1).unwrap_err(), Shortfall::Full);
        drop((b, over));
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn a_release_wakes_a_waiter() {
        let budget = MemoryBudget::new(10);
        let held = budget.try_reserve(10).unwrap();
        let waiter = {
            let budget = Arc::clone(&budget);
            tokio::spawn(async move {
                loop {
                    let freed = budget.freed();
                    if let Ok(r) = budget.try_reserve(5) {
                        return r.bytes();
                    }
                    freed.await;
                }
            })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert_eq!(tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await.unwrap().unwrap(), 5);
    }

    #[test]
    fn machine_figures_parse() {
        assert_eq!(parse_memory_max("4294967296\n"), Some(4 << 30));
        assert_eq!(parse_memory_max("max\n"), None);
        assert_eq!(parse_mem_total("MemTotal:       24683568 kB\nMemFree: 1 kB\n"), Some(24683568 * 1024));
        assert!(machine_default() > 0);
    }
}
