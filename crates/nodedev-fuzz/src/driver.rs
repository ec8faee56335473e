//! The driver: a seeded generator, a byte mutator, the corpus on disk, and the
//! loop that runs a harness a bounded number of times under a hang guard and a
//! memory ceiling.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a harness did with one input: the parser took it or refused it. Both are
/// fine; a broken invariant is a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input was accepted (and the harness checked what it became).
    Accepted,
    /// The input was refused with an error (and the harness checked the error).
    Rejected,
}

/// A harness: one input in, a verdict out, a panic on a broken invariant. The
/// signature of a `cargo fuzz` target (`fuzz_target!(|d: &[u8]| { harness(d); })`).
pub type Harness = fn(&[u8]) -> Outcome;

/// SplitMix64: small, fast, and the same sequence on every machine for a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// FNV-1a: a stable hash for seeds and file names.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Mutates `data` in place: one (half the time) to four of bit flips, byte changes, insertions of
/// random bytes or dictionary tokens, deletions, a chunk repeated many times
/// (what finds quadratic paths), a splice from another corpus entry, a
/// truncation. The result is at most `max_len` bytes.
pub fn mutate(
    rng: &mut Rng,
    data: &mut Vec<u8>,
    corpus: &[Vec<u8>],
    dict: &[&[u8]],
    max_len: usize,
) {
    let rounds = if rng.one_in(2) { 1 } else { 2 + rng.below(3) };
    for _ in 0..rounds {
        let len = data.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = *rng.pick(&[
                    0u8, 0x01, 0x09, 0x0a, 0x0d, 0x1a, 0x1b, 0x1f, 0x20, 0x7f, 0x80, 0xc3, 0xef,
                    0xff,
                ]);
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            3 | 4 if !dict.is_empty() => {
                let at = rng.below(len + 1);
                let token = rng.pick(dict).to_vec();
                data.splice(at..at, token);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                data.drain(at..at + n);
            }
            6 if len > 0 => {
                // A chunk repeated: many attributes, many elements, deep nesting.
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(32));
                let chunk = data[at..at + n].to_vec();
                let times = *rng.pick(&[2usize, 16, 256, 4096]);
                let mut rep = Vec::with_capacity(chunk.len() * times);
                for _ in 0..times {
                    rep.extend_from_slice(&chunk);
                }
                data.splice(at..at, rep);
            }
            7 if !corpus.is_empty() => {
                let other = rng.pick(corpus);
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = 1 + rng.below((other.len() - from).min(256));
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            8 if len > 0 => data.truncate(rng.below(len)),
            _ if len > 1 => {
                // Swap two bytes.
                let (i, j) = (rng.below(len), rng.below(len));
                data.swap(i, j);
            }
            _ => data.push(rng.next_u64() as u8),
        }
    }
    data.truncate(max_len);
}

/// How one harness runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The harness's name: its corpus is `corpus/<name>/` in this crate.
    pub name: &'static str,
    /// Further directories of seed inputs (relative to the workspace root), e.g.
    /// a crate's own test samples, so they are not copied.
    pub extra_seeds: &'static [&'static str],
    /// Tokens the mutator inserts (`<`, `&#x1b;`, `xmlns:` …).
    pub dictionary: &'static [&'static [u8]],
    /// Mutated cases run after the corpus (`NODEDEV_FUZZ_CASES` overrides).
    pub cases: usize,
    /// Longest mutated input.
    pub max_len: usize,
    /// Hang guard: a case that runs longer fails the harness.
    pub case_timeout: Duration,
    /// Memory ceiling: the process's peak RSS (`VmHWM`) after any case.
    pub max_rss_bytes: u64,
}

/// What a run did, for the report.
#[derive(Clone, Debug)]
pub struct Report {
    /// The harness's name.
    pub name: &'static str,
    /// The seed of the mutated cases.
    pub seed: u64,
    /// Corpus files run as they are.
    pub corpus_inputs: usize,
    /// Mutated cases run.
    pub cases: usize,
    /// Of all inputs, how many were accepted.
    pub accepted: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// The slowest single input.
    pub slowest: Duration,
    /// Peak RSS of the process at the end (`VmHWM`), if readable.
    pub peak_rss_bytes: Option<u64>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} corpus inputs + {} cases (seed {:#x}), {} accepted, {:.2} s, slowest {:.1} ms, peak RSS {}",
            self.name,
            self.corpus_inputs,
            self.cases,
            self.seed,
            self.accepted,
            self.elapsed.as_secs_f64(),
            self.slowest.as_secs_f64() * 1e3,
            self.peak_rss_bytes
                .map_or_else(|| "unknown".to_string(), |b| format!("{} MiB", b >> 20)),
        )
    }
}

/// This crate's directory (the corpus lives under it).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// Every file of a directory, in name order (a missing directory is empty).
fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes =
                std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// The corpus of a harness: `corpus/<name>/*` plus its extra seed directories.
pub fn corpus(config: &Config) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = read_dir_files(&crate_dir().join("corpus").join(config.name));
    for dir in config.extra_seeds {
        out.extend(read_dir_files(&workspace_dir().join(dir)));
    }
    out
}

/// The process's peak resident set (`VmHWM` of /proc/self/status), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// An input for a failure message: printable, at most 300 characters.
pub fn show(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(input);
    let mut out: String = text
        .chars()
        .take(300)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > 300 {
        out.push_str(&format!("… ({} bytes)", input.len()));
    }
    out
}

/// Saves a failing input where a person can pick it up and returns the path.
fn save_failure(name: &str, input: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join("nodedev-fuzz").join(name);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("failure-{:016x}", fnv1a(input)));
    let _ = std::fs::write(&path, input);
    path
}

/// Runs one harness: every corpus file as it is, then `cases` mutated inputs from
/// a seed fixed per harness (`NODEDEV_FUZZ_SEED` overrides it), each under the
/// hang guard, checking the memory ceiling after each. Panics with the input
/// (shown, and saved under the temporary directory) on the first failure.
pub fn run(config: &Config, harness: Harness) -> Report {
    let seeds = corpus(config);
    assert!(
        !seeds.is_empty(),
        "{}: no corpus in {}",
        config.name,
        crate_dir().join("corpus").join(config.name).display()
    );
    let seed = env_number("NODEDEV_FUZZ_SEED").unwrap_or_else(|| fnv1a(config.name.as_bytes()));
    let cases = env_number("NODEDEV_FUZZ_CASES").map_or(config.cases, |n| n as usize);
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let (beat, heartbeat) = mpsc::channel::<()>();
    let cfg = config.clone();
    let worker_current = Arc::clone(&current);
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{}", config.name))
        .spawn(move || -> Result<Report, String> {
            let started = Instant::now();
            let corpus: Vec<Vec<u8>> = seeds.iter().map(|(_, b)| b.clone()).collect();
            let mut rng = Rng::new(seed);
            let mut report = Report {
                name: cfg.name,
                seed,
                corpus_inputs: corpus.len(),
                cases,
                accepted: 0,
                elapsed: Duration::ZERO,
                slowest: Duration::ZERO,
                peak_rss_bytes: None,
            };
            let inputs = seeds
                .iter()
                .map(|(p, b)| (Some(p.clone()), b.clone()))
                .chain((0..cases).map(|_| {
                    let mut data = rng.pick(&corpus).clone();
                    mutate(&mut rng, &mut data, &corpus, cfg.dictionary, cfg.max_len);
                    (None, data)
                }));
            for (path, input) in inputs {
                *worker_current.lock().unwrap_or_else(|e| e.into_inner()) = input.clone();
                let t = Instant::now();
                let outcome = panic::catch_unwind(AssertUnwindSafe(|| harness(&input)));
                report.slowest = report.slowest.max(t.elapsed());
                let from = path.map_or_else(String::new, |p| format!(" (corpus file {})", p.display()));
                match outcome {
                    Ok(Outcome::Accepted) => report.accepted += 1,
                    Ok(Outcome::Rejected) => {}
                    Err(_) => {
                        let saved = save_failure(cfg.name, &input);
                        return Err(format!(
                            "{}: the harness panicked on \"{}\"{from}; input saved as {}",
                            cfg.name,
                            show(&input),
                            saved.display()
                        ));
                    }
                }
                if let Some(rss) = peak_rss().filter(|r| *r > cfg.max_rss_bytes) {
                    let saved = save_failure(cfg.name, &input);
                    return Err(format!(
                        "{}: peak RSS reached {} MiB (ceiling {} MiB) on \"{}\"{from}; input saved as {}",
                        cfg.name,
                        rss >> 20,
                        cfg.max_rss_bytes >> 20,
                        show(&input),
                        saved.display()
                    ));
                }
                let _ = beat.send(());
            }
            report.elapsed = started.elapsed();
            report.peak_rss_bytes = peak_rss();
            Ok(report)
        })
        .expect("spawning the fuzz worker");
    // The hang guard: every case must finish within the timeout.
    loop {
        match heartbeat.recv_timeout(config.case_timeout) {
            Ok(()) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let input = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let saved = save_failure(config.name, &input);
                panic!(
                    "{}: one input ran longer than {:?} (hang guard): \"{}\"; input saved as {}",
                    config.name,
                    config.case_timeout,
                    show(&input),
                    saved.display()
                );
            }
        }
    }
    match worker.join() {
        Ok(Ok(report)) => report,
        Ok(Err(msg)) => panic!("{msg}"),
        Err(_) => panic!("{}: the fuzz worker died", config.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &'static str, cases: usize, timeout: Duration) -> Config {
        Config {
            name,
            extra_seeds: &["crates/nodedev-fuzz/corpus/driver_name"],
            dictionary: &[b"<", b"\0"],
            cases,
            max_len: 4096,
            case_timeout: timeout,
            max_rss_bytes: 1 << 30,
        }
    }

    fn message(e: Box<dyn std::any::Any + Send>) -> String {
        e.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn the_same_seed_gives_the_same_inputs() {
        let corpus = vec![b"<a b='c'/>".to_vec(), b"pci_0000_00_01_0".to_vec()];
        let inputs = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| {
                    let mut d = rng.pick(&corpus).clone();
                    mutate(&mut rng, &mut d, &corpus, &[b"&#0;"], 1000);
                    d
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(inputs(7), inputs(7));
        assert_ne!(inputs(7), inputs(8));
        assert!(inputs(7).iter().all(|d| d.len() <= 1000));
    }

    #[test]
    fn a_broken_invariant_fails_the_run_with_the_input_saved() {
        fn harness(d: &[u8]) -> Outcome {
            assert!(!d.contains(&b'<'), "found it");
            Outcome::Accepted
        }
        let e = std::panic::catch_unwind(|| {
            run(
                &config("selftest_panic", 5000, Duration::from_secs(60)),
                harness,
            )
        })
        .unwrap_err();
        let msg = message(e);
        assert!(msg.contains("the harness panicked on"), "{msg}");
        let saved = msg.rsplit("input saved as ").next().unwrap();
        assert!(std::fs::read(saved).unwrap().contains(&b'<'), "{msg}");
    }

    #[test]
    fn a_hang_fails_the_run() {
        fn harness(d: &[u8]) -> Outcome {
            if d.contains(&0) {
                std::thread::sleep(Duration::from_secs(3600));
            }
            Outcome::Rejected
        }
        let e = std::panic::catch_unwind(|| {
            run(
                &config("selftest_hang", 5000, Duration::from_millis(300)),
                harness,
            )
        })
        .unwrap_err();
        let msg = message(e);
        assert!(msg.contains("ran longer than 300ms (hang guard)"), "{msg}");
    }

    #[test]
    fn a_clean_run_reports_what_it_did() {
        fn harness(d: &[u8]) -> Outcome {
            if d.first() == Some(&b'v') {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            }
        }
        let r = run(
            &config("selftest_clean", 300, Duration::from_secs(60)),
            harness,
        );
        let cases = env_number("NODEDEV_FUZZ_CASES").map_or(300, |n| n as usize);
        assert_eq!(r.cases, cases);
        assert_eq!(r.corpus_inputs, 8);
        assert!(r.accepted > 0 && r.accepted < cases + 8, "{r}");
    }
}
