//! Fair shares of the memory budget for frames being read (SPEC.md 6.1), so that a few peers
//! streaming large frames, or announcing them and stalling, cannot lock everybody else out.
//!
//! A frame's reservation grows with the bytes that arrive: [`FIRST_SLICE`] (or `N` if smaller)
//! when its prefix is in, then as its buffer grows. What frames being read may hold is capped:
//!
//! ```text
//!   budget B (2 GiB: ulimit -v 4 GiB)                      max_frame M (128 MiB)
//!   ├── small reserve R = min(B/32, B-M)       64 MiB  only frames with N <= 64 KiB (ping, stats,
//!   │                                                  hello, small requests) reach into it
//!   ├── frames being read, all peers F = max(M, B/2) 1 GiB, one uid U = max(M, F/2) 512 MiB
//!   │     └── the top quarter of F and of U: only for frames that announce N <= F/16
//!   │         (64 MiB); bigger ones stop at max(M, 3F/4) and max(M, 3U/4)
//!   └── jobs: the budget less R (and whatever frames do not hold)
//! ```
//!
//! A frame refused growth stops its connection's reads until memory is released (bounded by
//! `--frame-timeout`), exactly as a frame that cannot be reserved did before. The floors at `M`
//! keep one frame of the maximum size readable on any configuration the daemon accepts.

use std::collections::HashMap;
use std::sync::Mutex;

/// What a frame reserves when its prefix arrives (all of it when `N` is this or less: a small
/// frame, which may use the small reserve).
pub const FIRST_SLICE: u64 = 64 * 1024;

/// The caps, in bytes, derived from the budget and `max_frame`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharePolicy {
    /// Left to small frames: jobs and large frames never reserve into it.
    pub small_reserve: u64,
    /// Large frames being read, all peers together.
    pub frames_total: u64,
    /// Large frames being read by one uid.
    pub frames_per_uid: u64,
    /// A frame that announces more than this is big: it stops at the two caps below.
    pub medium_frame: u64,
    /// Big frames being read, all peers together.
    pub big_total: u64,
    /// Big frames being read by one uid.
    pub big_per_uid: u64,
}

impl SharePolicy {
    /// The caps for a budget of `budget` bytes and frames of up to `max_frame`.
    pub fn new(budget: u64, max_frame: u64) -> Self {
        let max_frame = max_frame.min(budget);
        let small_reserve = (budget / 32).min(budget - max_frame);
        let frames_total = max_frame.max(budget / 2).min(budget - small_reserve);
        let frames_per_uid = max_frame.max(frames_total / 2);
        SharePolicy {
            small_reserve,
            frames_total,
            frames_per_uid,
            medium_frame: FIRST_SLICE.max(frames_total / 16),
            big_total: max_frame.max(frames_total / 4 * 3),
            big_per_uid: max_frame.max(frames_per_uid / 4 * 3),
        }
    }
}

/// What large frames being read hold now, in all and per uid.
#[derive(Debug)]
pub struct FrameShares {
    policy: SharePolicy,
    book: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    total: u64,
    by_uid: HashMap<u32, u64>,
}

impl FrameShares {
    /// No frame being read.
    pub fn new(policy: SharePolicy) -> Self {
        FrameShares { policy, book: Mutex::default() }
    }

    /// The caps.
    pub fn policy(&self) -> &SharePolicy {
        &self.policy
    }

    /// Counts `more` bytes for a frame of `uid` that announced `len` bytes, if the caps allow.
    pub fn try_grow(&self, uid: u32, len: u64, more: u64) -> bool {
        let p = &self.policy;
        let big = len > p.medium_frame;
        let (total_cap, uid_cap) = if big { (p.big_total, p.big_per_uid) } else { (p.frames_total, p.frames_per_uid) };
        let mut book = self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let of_uid = book.by_uid.get(&uid).copied().unwrap_or(0);
        if book.total + more > total_cap || of_uid + more > uid_cap {
            return false;
        }
        book.total += more;
        *book.by_uid.entry(uid).or_default() += more;
        true
    }

    /// Returns `bytes` counted for a frame of `uid`.
    pub fn release(&self, uid: u32, bytes: u64) {
        if bytes == 0 {
            return;
        }
        let mut book = self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        book.total -= bytes;
        if let Some(of_uid) = book.by_uid.get_mut(&uid) {
            *of_uid -= bytes;
            if *of_uid == 0 {
                book.by_uid.remove(&uid);
            }
        }
    }

    /// Bytes counted now, in all.
    pub fn total(&self) -> u64 {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).total
    }
}

/// The pool's job slots in use per uid, so that one uid cannot keep another off the workers:
/// while another uid has jobs in flight, a uid may hold at most three quarters of `queue_jobs`
/// (at least one). Alone, a uid may use every slot (work-conserving: nothing is kept idle).
#[derive(Debug, Default)]
pub struct JobShares {
    by_uid: Mutex<HashMap<u32, u64>>,
}

/// One job slot of a uid, returned when dropped.
#[derive(Debug)]
pub struct JobSlot {
    shares: std::sync::Arc<JobShares>,
    uid: u32,
}

impl JobShares {
    /// The most slots of `max_jobs` one uid holds while others have jobs.
    pub fn cap(max_jobs: u64) -> u64 {
        (max_jobs - max_jobs / 4).max(1)
    }

    /// A slot for a job of `uid`, unless that uid is at its share while another uid has jobs.
    pub fn try_take(self: &std::sync::Arc<Self>, uid: u32, max_jobs: u64) -> Option<JobSlot> {
        let mut by_uid = self.by_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mine = by_uid.get(&uid).copied().unwrap_or(0);
        let others = by_uid.iter().any(|(&other, &n)| other != uid && n > 0);
        if others && mine + 1 > JobShares::cap(max_jobs) {
            return None;
        }
        *by_uid.entry(uid).or_default() += 1;
        Some(JobSlot { shares: std::sync::Arc::clone(self), uid })
    }
}

impl Drop for JobSlot {
    fn drop(&mut self) {
        let mut by_uid = self.shares.by_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(n) = by_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                by_uid.remove(&self.uid);
            }
        }
    }
}

/// Connections open per uid: one uid holds at most three quarters of `--max-connections` (at
/// least one), so that another uid can always connect, however many connections the first
/// opens (they are refused `busy` instead, like the connection limit).
#[derive(Debug, Default)]
pub struct ConnectionShares {
    by_uid: Mutex<HashMap<u32, u64>>,
}

/// One open connection of a uid, returned when dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    shares: std::sync::Arc<ConnectionShares>,
    uid: u32,
}

impl ConnectionShares {
    /// The most connections of `max_connections` one uid may hold.
    pub fn cap(max_connections: u64) -> u64 {
        (max_connections - max_connections / 4).max(1)
    }

    /// A connection of `uid`, unless it holds its share already.
    pub fn try_take(self: &std::sync::Arc<Self>, uid: u32, max_connections: u64) -> Option<ConnectionSlot> {
        let mut by_uid = self.by_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mine = by_uid.entry(uid).or_default();
        if *mine >= ConnectionShares::cap(max_connections) {
            return None;
        }
        *mine += 1;
        Some(ConnectionSlot { shares: std::sync::Arc::clone(self), uid })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut by_uid = self.shares.by_uid.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(n) = by_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                by_uid.remove(&self.uid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn a_uid_alone_may_use_every_job_slot_and_leaves_a_quarter_to_others() {
        let shares = std::sync::Arc::new(JobShares::default());
        let mut alone: Vec<JobSlot> = (0..64).map(|_| shares.try_take(1, 64).unwrap()).collect();
        // Another uid arrives: it gets slots (the pool's own bound is checked elsewhere), and
        // uid 1, at 64, gets no more until it is back under 48.
        let other = shares.try_take(2, 64).unwrap();
        assert!(shares.try_take(1, 64).is_none());
        alone.truncate(47);
        let slot = shares.try_take(1, 64);
        assert!(slot.is_some(), "47 held, the 48th fits");
        assert!(shares.try_take(1, 64).is_none(), "48 held: at the share");
        drop((other, slot, alone));
        assert!(shares.by_uid.lock().unwrap().is_empty());
        assert_eq!(JobShares::cap(1), 1);
        assert_eq!(JobShares::cap(2), 2);
    }

    #[test]
    fn one_uid_holds_three_quarters_of_the_connections() {
        let shares = std::sync::Arc::new(ConnectionShares::default());
        let held: Vec<ConnectionSlot> = (0..768).map(|_| shares.try_take(1, 1024).unwrap()).collect();
        assert!(shares.try_take(1, 1024).is_none());
        let other = shares.try_take(2, 1024).expect("another uid still connects");
        drop((held, other));
        assert!(shares.by_uid.lock().unwrap().is_empty());
        assert_eq!((ConnectionShares::cap(1), ConnectionShares::cap(2), ConnectionShares::cap(4)), (1, 2, 3));
    }

    #[test]
    fn the_default_figures_under_a_two_gib_budget() {
        let p = SharePolicy::new(2048 * MIB, 128 * MIB);
        assert_eq!(p.small_reserve, 64 * MIB);
        assert_eq!((p.frames_total, p.frames_per_uid), (1024 * MIB, 512 * MIB));
        assert_eq!((p.medium_frame, p.big_total, p.big_per_uid), (64 * MIB, 768 * MIB, 384 * MIB));
    }

    #[test]
    fn a_budget_of_one_frame_still_reads_a_frame_of_the_maximum_size() {
        let p = SharePolicy::new(128 * MIB, 128 * MIB);
        assert_eq!(p.small_reserve, 0);
        assert_eq!((p.frames_total, p.big_total, p.big_per_uid), (128 * MIB, 128 * MIB, 128 * MIB));
        let shares = FrameShares::new(p);
        assert!(shares.try_grow(1, 128 * MIB, 128 * MIB));
    }

    #[test]
    fn big_frames_of_one_uid_stop_at_their_cap_and_medium_ones_still_fit() {
        let shares = FrameShares::new(SharePolicy::new(2048 * MIB, 128 * MIB));
        // Seventeen connections of uid 7, each wanting 120 MiB: three fit (384 MiB cap).
        let mut held = vec![0u64; 17];
        for h in held.iter_mut() {
            while *h < 120 * MIB && shares.try_grow(7, 128 * MIB, 8 * MIB) {
                *h += 8 * MIB;
            }
        }
        assert_eq!(held.iter().sum::<u64>(), 384 * MIB);
        // A 2 MiB frame of the same uid, and of another, still fit; a 100 MiB one of another uid too.
        assert!(shares.try_grow(7, 2 * MIB, 2 * MIB));
        assert!(shares.try_grow(8, 2 * MIB, 2 * MIB));
        assert!(shares.try_grow(8, 100 * MIB, 100 * MIB));
        // Medium frames of uid 7 fill its share up to U (512 MiB), no further.
        let mut medium = 0;
        while shares.try_grow(7, 64 * MIB, MIB) {
            medium += MIB;
        }
        assert_eq!(medium, 512 * MIB - 386 * MIB);
        shares.release(7, medium);
        shares.release(8, 102 * MIB);
        shares.release(7, 386 * MIB);
        assert_eq!(shares.total(), 0);
    }
}
