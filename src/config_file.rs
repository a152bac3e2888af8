//! Where each setting comes from: a flag, then its `FERRYD_*` variable, then the TOML file named
//! by `--config` (or `FERRYD_CONFIG`), then the flag's default.
//!
//! The file has one top-level key per flag, the flag's long name with `-` as `_`
//! (`--queue-jobs` is `queue_jobs`). Keys are not declared anywhere else: they are read off the
//! clap definition in [`crate::cli::Cli`], so a new flag is a new key with no further code.
//!
//! How the layers combine: the command line (with clap's own variable fallback) is parsed once
//! to find the file and to learn which settings a flag or a variable already gave. Each file key
//! is checked against its flag's own value parser, and those the user did not give are put in
//! front of the real arguments as `--flag=value`; a second parse then yields the [`Cli`]. A
//! setting therefore means exactly the same in the file as on the command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// Flags that are not settings: they cannot appear in the file.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// Largest config file read. The file is read at most this plus one byte, so `--config
/// /dev/zero` (or a runaway generated file) is refused at once instead of filling memory.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The parsed command line, and where each setting came from.
#[derive(Debug)]
pub struct Layered {
    /// Flags, variables and file merged.
    pub cli: Cli,
    /// Every setting in `--help` order, with its value and origin (for `check-config`).
    pub settings: Vec<Setting>,
}

/// One setting's effective value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The config file key (the flag without `--`, `-` as `_`).
    pub key: String,
    /// The value as text, as a flag would take it; `None` when unset and without a default.
    pub value: Option<String>,
    /// Which layer gave it.
    pub origin: Origin,
}

/// Which layer a setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// An environment variable (its name).
    Env(String),
    /// The config file (its path).
    File(PathBuf),
    /// The built-in default.
    Default,
    /// Not set anywhere, and no default.
    Unset,
}

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The command line itself is wrong, or asks for `--help`/`--version` (clap prints those).
    #[error(transparent)]
    Flags(#[from] clap::Error),
    /// The file cannot be read.
    #[error("cannot read the config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("the config file {} is larger than {MAX_CONFIG_BYTES} bytes; a ferryd config is a few lines", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not TOML.
    #[error("{} is not valid TOML", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and why, from the TOML parser.
        #[source]
        source: toml::de::Error,
    },
    /// A key that is no flag.
    #[error("{}: unknown key `{key}`; the keys are the flags of `ferryd --help` with `-` as `_`: {known}", path.display())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// Every valid key, comma-separated.
        known: String,
    },
    /// A key whose value its flag would refuse.
    #[error("{}: key `{key}`: {reason}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong, in the flag parser's words.
        reason: String,
    },
}

impl Origin {
    /// Where the setting `key` came from, in words for an error message.
    pub fn describe(&self, key: &str) -> String {
        match self {
            Origin::Flag => format!("--{} on the command line", key.replace('_', "-")),
            Origin::Env(name) => format!("the environment variable {name}"),
            Origin::File(path) => format!("key `{key}` of {}", path.display()),
            Origin::Default | Origin::Unset => format!("the default of {key}"),
        }
    }
}

/// Where each of `keys` came from, for a refused configuration: `memory_budget from the
/// environment variable FERRYD_MEMORY_BUDGET`, comma-separated.
pub fn origins_of(settings: &[Setting], keys: &[impl AsRef<str>]) -> String {
    keys.iter()
        .map(|key| key.as_ref())
        .map(|key| match settings.iter().find(|s| s.key == key) {
            Some(setting) => setting.origin.describe(key),
            None => format!("the default of {key}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The config file key of a flag.
pub fn key_of(arg: &Arg) -> Option<String> {
    let long = arg.get_long()?;
    (!NOT_SETTINGS.contains(&long)).then(|| long.replace('-', "_"))
}

/// Parses `argv` (program name first) and merges in the config file it names, if any.
pub fn load<I, T>(argv: I) -> Result<Layered, LayerError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let command = Cli::command();
    let first = command.clone().try_get_matches_from(&argv)?;
    let Some(path) = first.get_one::<PathBuf>("config").cloned() else {
        let settings = settings(&command, &first, &[], None);
        return Ok(Layered { cli: Cli::from_arg_matches(&first)?, settings });
    };
    let table = read_table(&path)?;
    let mut injected = Vec::new();
    let mut from_file = Vec::new();
    for (key, value) in &table {
        let text = flag_text(value).map_err(|reason| LayerError::BadValue { path: path.clone(), key: key.clone(), reason })?;
        let arg = command.get_arguments().find(|arg| key_of(arg).as_deref() == Some(key.as_str())).ok_or_else(|| {
            LayerError::UnknownKey { path: path.clone(), key: key.clone(), known: known_keys(&command) }
        })?;
        check_value(&command, arg, &text).map_err(|reason| LayerError::BadValue {
            path: path.clone(),
            key: key.clone(),
            reason,
        })?;
        if matches!(first.value_source(arg.get_id().as_str()), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            continue;
        }
        let long = arg.get_long().expect("settings have a long flag");
        if arg.get_action().takes_values() {
            injected.push(OsString::from(format!("--{long}={text}")));
        } else if text == "true" {
            injected.push(OsString::from(format!("--{long}")));
        }
        from_file.push(key.clone());
    }
    let mut merged = Vec::with_capacity(argv.len() + injected.len());
    merged.extend(argv.first().cloned());
    merged.extend(injected);
    merged.extend(argv.iter().skip(1).cloned());
    let matches = command.clone().try_get_matches_from(merged)?;
    let settings = settings(&command, &matches, &from_file, Some(&path));
    Ok(Layered { cli: Cli::from_arg_matches(&matches)?, settings })
}

fn read_table(path: &Path) -> Result<toml::Table, LayerError> {
    use std::io::Read;
    let failed = |source| LayerError::Read { path: path.into(), source };
    let mut bytes = Vec::new();
    std::fs::File::open(path).map_err(failed)?.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LayerError::TooLarge { path: path.into() });
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| failed(std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error())))?;
    text.parse::<toml::Table>().map_err(|source| LayerError::Syntax { path: path.into(), source })
}

/// A TOML value as the text its flag takes: strings as they are, numbers and booleans written
/// out, arrays joined with commas (for list flags such as `--allow-uid`).
fn flag_text(value: &toml::Value) -> Result<String, String> {
    Ok(match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items.iter().map(flag_text).collect::<Result<Vec<_>, _>>()?.join(","),
        toml::Value::Datetime(_) => return Err("a date is not a valid value here".into()),
        toml::Value::Table(_) => return Err("tables are not settings; every key is top-level".into()),
    })
}

/// Runs the flag's own parser on `text`, so a file value is refused exactly as the flag would be.
fn check_value(command: &clap::Command, arg: &Arg, text: &str) -> Result<(), String> {
    if !arg.get_action().takes_values() {
        return match text {
            "true" | "false" => Ok(()),
            _ => Err(format!("expected true or false, found {text:?}")),
        };
    }
    let long = arg.get_long().expect("settings have a long flag");
    let argv = [OsString::from("ferryd"), OsString::from(format!("--{long}={text}"))];
    command.clone().try_get_matches_from(argv).map(drop).map_err(|error| {
        let rendered = error.to_string();
        let first = rendered.lines().next().unwrap_or_default();
        first.trim_start_matches("error: ").to_string()
    })
}

fn known_keys(command: &clap::Command) -> String {
    command.get_arguments().filter_map(key_of).collect::<Vec<_>>().join(", ")
}

fn settings(command: &clap::Command, matches: &ArgMatches, from_file: &[String], path: Option<&Path>) -> Vec<Setting> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let key = key_of(arg)?;
            let id = arg.get_id().as_str();
            let value = matches
                .get_raw(id)
                .map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect::<Vec<_>>().join(","))
                .or_else(|| (matches.get_flag_or(id) == Some(true)).then(|| "true".to_string()));
            let origin = if from_file.contains(&key) {
                Origin::File(path.expect("file keys come with a path").to_path_buf())
            } else {
                match matches.value_source(id) {
                    Some(ValueSource::CommandLine) => Origin::Flag,
                    Some(ValueSource::EnvVariable) => {
                        Origin::Env(arg.get_env().map(|v| v.to_string_lossy().into_owned()).unwrap_or_default())
                    }
                    Some(ValueSource::DefaultValue) => Origin::Default,
                    _ => Origin::Unset,
                }
            };
            Some(Setting { key, value, origin })
        })
        .collect()
}

/// `get_flag` that does not panic for arguments that take values.
trait FlagOr {
    fn get_flag_or(&self, id: &str) -> Option<bool>;
}

impl FlagOr for ArgMatches {
    fn get_flag_or(&self, id: &str) -> Option<bool> {
        self.try_get_one::<bool>(id).ok().flatten().copied()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load_with(text: &str, extra: &[&str]) -> Result<Layered, LayerError> {
        let config = file(text);
        let path = config.path().to_str().unwrap().to_string();
        let mut argv = vec!["ferryd", "--config", &path];
        argv.extend_from_slice(extra);
        load(argv)
    }

    #[test]
    fn every_flag_but_config_help_and_version_is_a_key() {
        let command = Cli::command();
        let keys: Vec<String> = command.get_arguments().filter_map(key_of).collect();
        for expected in ["socket", "queue_jobs", "max_frame", "log_format", "metrics_listen", "shutdown_grace"] {
            assert!(keys.iter().any(|k| k == expected), "{expected} missing from {keys:?}");
        }
        assert!(!keys.iter().any(|k| k == "config" || k == "help" || k == "version"), "{keys:?}");
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let layered = load_with("queue_jobs = 7\nqueue_bytes = \"512MiB\"\nshutdown_grace = 2.5\n", &["--queue-jobs", "9"])
            .unwrap();
        assert_eq!(layered.cli.queue_jobs, 9);
        assert_eq!(layered.cli.queue_bytes, 512 << 20);
        assert_eq!(layered.cli.shutdown_grace, std::time::Duration::from_millis(2500));
        let origin = |key: &str| layered.settings.iter().find(|s| s.key == key).unwrap().origin.clone();
        assert_eq!(origin("queue_jobs"), Origin::Flag);
        assert!(matches!(origin("queue_bytes"), Origin::File(_)));
        assert_eq!(origin("max_frame"), Origin::Default);
        assert_eq!(origin("log_level"), Origin::Unset);
    }

    #[test]
    fn subcommands_still_parse_after_injected_flags() {
        let layered = load_with("socket = \"/tmp/x.sock\"\n", &["health"]).unwrap();
        assert_eq!(layered.cli.socket, PathBuf::from("/tmp/x.sock"));
        assert!(layered.cli.command.is_some());
    }

    #[test]
    fn config_and_flags_after_a_subcommand_layer_the_same() {
        let config = file("queue_jobs = 7\nsocket = \"/tmp/file.sock\"\n");
        let path = config.path().to_str().unwrap();
        let layered = load(["ferryd", "health", "--config", path, "--queue-jobs", "9"]).unwrap();
        assert_eq!(layered.cli.queue_jobs, 9, "the flag after the subcommand wins over the file");
        assert_eq!(layered.cli.socket, PathBuf::from("/tmp/file.sock"), "the file named after the subcommand is read");
        let origin = |key: &str| layered.settings.iter().find(|s| s.key == key).unwrap().origin.clone();
        assert_eq!(origin("queue_jobs"), Origin::Flag);
        assert!(matches!(origin("socket"), Origin::File(_)));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key_and_the_file() {
        let err = load_with("queue_job = 7\n", &[]).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LayerError::UnknownKey { ref key, .. } if key == "queue_job"), "{text}");
        assert!(text.contains("queue_job`") && text.contains(".tmp") && text.contains("queue_jobs"), "{text}");
        let err = load_with("queue_jobs = \"many\"\n", &[]).unwrap_err();
        assert!(matches!(err, LayerError::BadValue { ref key, .. } if key == "queue_jobs"), "{err}");
        let err = load_with("[capacity]\nqueue_jobs = 1\n", &[]).unwrap_err();
        assert!(err.to_string().contains("tables are not settings"), "{err}");
        let err = load_with("config = \"/etc/other.toml\"\n", &[]).unwrap_err();
        assert!(matches!(err, LayerError::UnknownKey { .. }), "{err}");
        assert!(matches!(load_with("queue_jobs = \n", &[]).unwrap_err(), LayerError::Syntax { .. }));
    }

    #[test]
    fn an_endless_file_is_refused_after_one_mib() {
        let started = std::time::Instant::now();
        let err = load(["ferryd", "--config", "/dev/zero"]).unwrap_err();
        assert!(matches!(err, LayerError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("/dev/zero is larger than 1048576 bytes"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let big = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES as usize));
        assert!(matches!(load_with(&big, &[]).unwrap_err(), LayerError::TooLarge { .. }));
    }

    #[test]
    fn origins_are_named() {
        let layered = load_with("workers = 3\n", &["--queue-jobs", "9"]).unwrap();
        let text = origins_of(&layered.settings, &["workers", "queue_jobs", "max_frame"]);
        assert!(text.contains("key `workers` of /"), "{text}");
        assert!(text.contains("--queue-jobs on the command line"), "{text}");
        assert!(text.contains("the default of max_frame"), "{text}");
    }
}
