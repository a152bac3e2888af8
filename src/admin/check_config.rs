//! `ferryd check-config`: the settings the daemon would run with, after flags, `FERRYD_*`
//! variables and the `--config` file are merged and validated exactly as at start. The output
//! is itself a valid config file: one `key = value` line per setting, with a comment naming
//! where it came from; unset settings are commented out.

use std::process::ExitCode;

use crate::cli::Cli;
use crate::config::Config;
use crate::config_file::{Origin, Setting};

/// Validates `cli` as the daemon would and prints `settings`; exit 1 on an invalid value.
pub fn run(cli: Cli, settings: &[Setting]) -> ExitCode {
    if let Err(error) = Config::from_layered(cli, settings) {
        eprintln!("ferryd check-config: invalid: {error}");
        return ExitCode::FAILURE;
    }
    print!("{}", render(settings));
    ExitCode::SUCCESS
}

/// The settings as TOML lines with their origins.
pub fn render(settings: &[Setting]) -> String {
    let lines: Vec<String> = settings
        .iter()
        .map(|setting| match &setting.value {
            Some(value) => format!("{} = {}", setting.key, toml_value(value)),
            None => format!("# {} =", setting.key),
        })
        .collect();
    let width = lines.iter().map(String::len).max().unwrap_or(0) + 2;
    let mut out = String::from("# ferryd effective settings: flag > FERRYD_* variable > config file > default\n");
    for (setting, line) in settings.iter().zip(lines) {
        let origin = match &setting.origin {
            Origin::Flag => "flag".to_string(),
            Origin::Env(name) => format!("env {name}"),
            Origin::File(path) => format!("file {}", path.display()),
            Origin::Default => "default".to_string(),
            Origin::Unset => "unset".to_string(),
        };
        out.push_str(&format!("{line:<width$}# {origin}\n"));
    }
    out
}

/// Numbers bare, everything else (including `0660`: TOML has no leading zeros) as a string.
fn toml_value(text: &str) -> String {
    let digits = !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == '.');
    let number = text.parse::<f64>().is_ok() && (text == "0" || !text.starts_with('0') || text.starts_with("0."));
    if digits && number {
        text.to_string()
    } else {
        toml::Value::String(text.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_a_valid_config_file() {
        let settings = vec![
            Setting { key: "socket".into(), value: Some("/run/ferry/ferryd.sock".into()), origin: Origin::Default },
            Setting { key: "queue_jobs".into(), value: Some("12".into()), origin: Origin::Env("FERRYD_QUEUE_JOBS".into()) },
            Setting { key: "shutdown_grace".into(), value: Some("2.5".into()), origin: Origin::Flag },
            Setting { key: "log_level".into(), value: None, origin: Origin::Unset },
            Setting { key: "socket_mode".into(), value: Some("0660".into()), origin: Origin::Default },
        ];
        let text = render(&settings);
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["queue_jobs"].as_integer(), Some(12));
        assert_eq!(table["socket"].as_str(), Some("/run/ferry/ferryd.sock"));
        assert_eq!(table["shutdown_grace"].as_float(), Some(2.5));
        assert!(!table.contains_key("log_level"));
        assert_eq!(table["socket_mode"].as_str(), Some("0660"));
        assert!(text.contains("# env FERRYD_QUEUE_JOBS"), "{text}");
    }
}
