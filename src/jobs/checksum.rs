//! Several digests of one byte string in a single pass (protocol/SPEC.md section 5.4).
//!
//! The data is walked once, in chunks of [`CHUNK`] bytes; every requested hasher is fed each chunk
//! while it is still in cache, and the job's deadline and cancellation flag are checked between
//! chunks, so a 64 MiB request notices a cancel within a fraction of a millisecond.

use std::collections::HashSet;

use sha2::Digest as _;

use super::{Algorithm, JobControl, JobError};

/// Bytes fed to every hasher between two control checks. Large enough that the per-chunk call
/// overhead vanishes and BLAKE3 can split a chunk across the pool's threads (worth it from about
/// 128 KiB), small enough to stay in L2 and to notice a cancel within a millisecond even at
/// SHA-256's 1.4 GB/s.
pub const CHUNK: usize = 1024 * 1024;

/// From this many bytes a BLAKE3 update is split across the worker pool (`update_rayon`): the
/// other workers help when idle and lose nothing when busy (rayon's joins are work-stealing).
const BLAKE3_PARALLEL_FROM: usize = 128 * 1024;

/// Digests of `data` for each algorithm, in the order given. Checks `ctl` between chunks.
///
/// The list must be non-empty and name each algorithm at most once, else
/// [`JobError::InvalidArgument`]. Digest bytes are as SPEC.md 5.4 defines them: CRC32C and
/// XXH3-64 big-endian, SHA-256 and BLAKE3 their usual 32 bytes.
pub fn checksum(data: &[u8], algorithms: &[Algorithm], ctl: &JobControl) -> Result<Vec<(Algorithm, Vec<u8>)>, JobError> {
    #[cfg(feature = "fault-injection")]
    super::fault::panic_on_magic(data, "checksum");
    validate(algorithms)?;
    ctl.check("checksum")?;
    let mut hashers: Vec<Hasher> = algorithms.iter().map(|&a| Hasher::new(a)).collect();
    for chunk in data.chunks(CHUNK) {
        for hasher in &mut hashers {
            hasher.update(chunk);
        }
        ctl.check("checksum")?;
    }
    Ok(algorithms.iter().copied().zip(hashers.into_iter().map(Hasher::finish)).collect())
}

/// Refuses an empty list or one that repeats an algorithm.
pub(super) fn validate(algorithms: &[Algorithm]) -> Result<(), JobError> {
    if algorithms.is_empty() {
        return Err(JobError::InvalidArgument("algorithms: at least one is required".into()));
    }
    let mut seen = HashSet::with_capacity(algorithms.len());
    for algorithm in algorithms {
        if !seen.insert(*algorithm) {
            return Err(JobError::InvalidArgument(format!("algorithms: {} is listed twice", algorithm.word())));
        }
    }
    Ok(())
}

/// One running digest. An enum rather than `Box<dyn Trait>`: four known kinds, no allocation.
pub(super) enum Hasher {
    Crc32c(u32),
    Xxh3(Box<xxhash_rust::xxh3::Xxh3>),
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub(super) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Crc32c => Hasher::Crc32c(0),
            Algorithm::Xxh3_64 => Hasher::Xxh3(Box::new(xxhash_rust::xxh3::Xxh3::new())),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }

    pub(super) fn update(&mut self, chunk: &[u8]) {
        match self {
            Hasher::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, chunk),
            Hasher::Xxh3(h) => h.update(chunk),
            Hasher::Sha256(h) => h.update(chunk),
            Hasher::Blake3(h) if chunk.len() >= BLAKE3_PARALLEL_FROM => {
                h.update_rayon(chunk);
            }
            Hasher::Blake3(h) => {
                h.update(chunk);
            }
        }
    }

    pub(super) fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            Hasher::Xxh3(h) => h.digest().to_be_bytes().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `byte i = i mod 251`, the painting protocol/vectors/checksums.json uses.
    fn painted(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn vectors() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/vectors/checksums.json");
        let text = std::fs::read_to_string(path).expect("protocol/vectors/checksums.json is readable");
        serde_json::from_str(&text).expect("checksums.json is JSON")
    }

    #[test]
    fn matches_every_vector_one_algorithm_at_a_time() {
        let vectors = vectors();
        let cases = vectors["checksums"].as_array().expect("a checksums array");
        assert!(cases.len() >= 16, "expected the generator's full table, got {}", cases.len());
        let mut algorithms_seen = HashSet::new();
        for case in cases {
            let word = case["algorithm"].as_str().unwrap();
            let algorithm = Algorithm::from_word(word).unwrap_or_else(|| panic!("unknown algorithm {word}"));
            algorithms_seen.insert(algorithm);
            let len = case["length"].as_u64().unwrap() as usize;
            let want = case["digest"].as_str().unwrap();
            let got = checksum(&painted(len), &[algorithm], &JobControl::unbounded()).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, algorithm);
            assert_eq!(hex::encode(&got[0].1), want, "{word} of {len} painted bytes");
        }
        assert_eq!(algorithms_seen.len(), 4, "the vectors cover all four algorithms");
    }

    #[test]
    fn all_algorithms_in_one_pass_agree_with_the_vectors_and_keep_request_order() {
        let vectors = vectors();
        let cases = vectors["checksums"].as_array().unwrap();
        let mut lengths: Vec<usize> = cases.iter().map(|c| c["length"].as_u64().unwrap() as usize).collect();
        lengths.sort_unstable();
        lengths.dedup();
        // Spans several chunks for the large vectors, so chunking itself is exercised.
        assert!(lengths.iter().any(|&l| l > CHUNK), "vectors should include an input longer than one chunk");
        let order = [Algorithm::Blake3, Algorithm::Crc32c, Algorithm::Sha256, Algorithm::Xxh3_64];
        for len in lengths {
            let got = checksum(&painted(len), &order, &JobControl::unbounded()).unwrap();
            let got_order: Vec<Algorithm> = got.iter().map(|(a, _)| *a).collect();
            assert_eq!(got_order, order);
            for (algorithm, digest) in got {
                let want = cases
                    .iter()
                    .find(|c| c["algorithm"] == algorithm.word() && c["length"].as_u64() == Some(len as u64))
                    .unwrap_or_else(|| panic!("no vector for {} of {len}", algorithm.word()));
                assert_eq!(hex::encode(digest), want["digest"].as_str().unwrap(), "{} of {len}", algorithm.word());
            }
        }
    }

    #[test]
    fn digest_sizes_match_the_spec() {
        let all = [Algorithm::Crc32c, Algorithm::Xxh3_64, Algorithm::Sha256, Algorithm::Blake3];
        let got = checksum(b"123456789", &all, &JobControl::unbounded()).unwrap();
        let sizes: Vec<usize> = got.iter().map(|(_, d)| d.len()).collect();
        assert_eq!(sizes, [4, 8, 32, 32]);
        // The spec's own example: CRC32C("123456789") = e3069283.
        assert_eq!(hex::encode(&got[0].1), "e3069283");
    }

    #[test]
    fn empty_or_repeated_algorithm_lists_are_invalid() {
        let ctl = JobControl::unbounded();
        assert!(matches!(checksum(b"x", &[], &ctl), Err(JobError::InvalidArgument(_))));
        let repeated = [Algorithm::Sha256, Algorithm::Crc32c, Algorithm::Sha256];
        match checksum(b"x", &repeated, &ctl) {
            Err(JobError::InvalidArgument(message)) => assert!(message.contains("sha256"), "{message}"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn an_expired_deadline_or_a_cancel_stops_the_job() {
        let past = std::time::Instant::now() - std::time::Duration::from_millis(1);
        let expired = JobControl::new(Some(past));
        assert!(matches!(
            checksum(&painted(3 * CHUNK), &[Algorithm::Blake3], &expired),
            Err(JobError::DeadlineExceeded { .. })
        ));
        let cancelled = JobControl::unbounded();
        cancelled.cancel();
        assert!(matches!(
            checksum(&painted(3 * CHUNK), &[Algorithm::Blake3], &cancelled),
            Err(JobError::Cancelled { .. })
        ));
    }
}
