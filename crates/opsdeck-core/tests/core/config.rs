//! Configuration layers: defaults, file, environment override, and refusals that name the key.

// `figment::Jail` closures return `figment::Error`, which is large; that is its API, not ours.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;

use figment::Jail;
use opsdeck_core::config::{DatabaseBackend, keys};
use opsdeck_core::{Config, ConfigError};

fn load(jail: &Jail, file: Option<&str>) -> Result<Config, ConfigError> {
    let dir = jail.directory().to_path_buf();
    let path = file.map(|body| {
        let path = dir.join("opsdeck.toml");
        std::fs::write(&path, body).unwrap();
        path
    });
    Config::from_layers(dir.join("data"), path.as_deref())
}

fn refusal(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(config) => panic!("expected a refusal, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_without_file_or_environment() {
    Jail::expect_with(|jail| {
        let config = load(jail, None).unwrap();
        let data = jail.directory().join("data");
        assert_eq!(config.data_dir, data);
        assert_eq!(config.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(config.redis_prefix, "opsdeck");
        assert_eq!(config.redis_url.to_string(), "redis://127.0.0.1:6391/0");
        assert_eq!(config.database_backend(), DatabaseBackend::Sqlite);
        assert_eq!(config.database_url.expose(), format!("sqlite://{}?mode=rwc", data.join("opsdeck.db").display()));
        assert!(config.sources.values().all(|origin| origin == "default"));
        Ok(())
    });
}

#[test]
fn file_overrides_defaults_and_environment_overrides_file() {
    Jail::expect_with(|jail| {
        let file = "timezone = \"Europe/London\"\nredis_prefix = \"from-file\"\n";
        let config = load(jail, Some(file)).unwrap();
        assert_eq!(config.timezone, chrono_tz::Europe::London);
        assert_eq!(config.redis_prefix, "from-file");
        assert!(config.sources["timezone"].ends_with("opsdeck.toml"));

        jail.set_env("OPSDECK_TIMEZONE", "America/New_York");
        jail.set_env("OPSDECK_DATABASE_URL", "mysql://ops:hunter2@db.internal:3306/shop");
        let config = load(jail, Some(file)).unwrap();
        assert_eq!(config.timezone, chrono_tz::America::New_York);
        assert_eq!(config.sources["timezone"], "OPSDECK_TIMEZONE");
        assert_eq!(config.redis_prefix, "from-file", "a key the environment does not set keeps the file's value");
        assert_eq!(config.database_backend(), DatabaseBackend::Mysql);
        Ok(())
    });
}

#[test]
fn data_dir_moves_the_default_database() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_DATA_DIR", "/srv/opsdeck");
        let config = load(jail, None).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/opsdeck"));
        assert_eq!(config.database_url.expose(), "sqlite:///srv/opsdeck/opsdeck.db?mode=rwc");
        Ok(())
    });
}

#[test]
fn secrets_never_print() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_DATABASE_URL", "mysql://ops:hunter2@db.internal/shop");
        jail.set_env("OPSDECK_REDIS_URL", "redis://:s3cret@cache.internal:6379/2");
        let config = load(jail, None).unwrap();
        let printed = format!("{config:?} {:?}", config.effective());
        assert!(!printed.contains("hunter2"), "database password leaked: {printed}");
        assert!(!printed.contains("s3cret"), "redis password leaked: {printed}");
        assert!(printed.contains("mysql://ops:****@db.internal/shop"));
        assert_eq!(config.database_url.expose(), "mysql://ops:hunter2@db.internal/shop");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_BAIDU_API_KEY", "ak-Zq8v1");
        jail.set_env("OPSDECK_BAIDU_SECRET_KEY", "sk-Wd3m9");
        let config = load(jail, None).unwrap();
        assert!(config.baidu_configured());
        let printed = format!("{config:?} {:?}", config.effective());
        assert!(!printed.contains("ak-Zq8v1") && !printed.contains("sk-Wd3m9"), "a Baidu key leaked: {printed}");
        // Alipay's app id is all digits: from the environment it still reads as text.
        jail.set_env("OPSDECK_ALIPAY_APP_ID", "2021000000000001");
        jail.set_env("OPSDECK_ALIPAY_PRIVATE_KEY", "MIIEvQ-not-checked-here");
        jail.set_env("OPSDECK_ALIPAY_PUBLIC_KEY", "MIIBIj-not-checked-here");
        let config = load(jail, None).unwrap();
        assert_eq!(config.alipay_app_id.as_deref(), Some("2021000000000001"));
        assert!(!format!("{config:?} {:?}", config.effective()).contains("MIIEvQ"), "the Alipay private key leaked");
        let shown: Vec<_> =
            config.effective().into_iter().filter(|(k, _, _)| k.starts_with("baidu_") && k.ends_with("_key")).collect();
        assert_eq!(shown.len(), 2);
        assert!(shown.iter().all(|(_, value, _)| value == "****"), "{shown:?}");
        Ok(())
    });
}

#[test]
fn a_bad_environment_value_is_refused_naming_key_and_reason() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_TIMEZONE", "Mars/Olympus_Mons");
        let message = refusal(load(jail, None));
        assert!(message.contains("`timezone`"), "{message}");
        assert!(message.contains("OPSDECK_TIMEZONE"), "{message}");
        assert!(message.contains("unknown time zone \"Mars/Olympus_Mons\""), "{message}");
        Ok(())
    });
}

#[test]
fn bad_values_are_refused_with_a_clear_message() {
    let cases: &[(&str, &str, &str)] = &[
        ("OPSDECK_HEALTH_INTERVAL_MS", "soon", "\"soon\" is not a whole number; give milliseconds"),
        ("OPSDECK_HEALTH_INTERVAL_MS", "5", "out of range"),
        ("OPSDECK_DATABASE_URL", "postgres://x/y", "unsupported scheme `postgres:`"),
        ("OPSDECK_DATABASE_URL", "not a url", "not a URL"),
        ("OPSDECK_REDIS_URL", "http://localhost", "unsupported scheme `http:`"),
        ("OPSDECK_REDIS_PREFIX", "has space", "is not a key prefix"),
        ("OPSDECK_LOG", "=[", "is not a log filter"),
        ("OPSDECK_BAIDU_URL", "ftp://aip.baidubce.com", "is not an http(s) URL"),
        ("OPSDECK_BAIDU_API_KEY", "only-one-key", "set both baidu_api_key and baidu_secret_key"),
        ("OPSDECK_OCR_QPS", "0", "out of range (0.1–1000"),
        ("OPSDECK_OCR_QPS", "fast", "\"fast\" is not a number; give calls per second"),
        ("OPSDECK_OCR_CONCURRENCY", "0", "out of range (1–256)"),
        ("OPSDECK_OCR_LEASE_MS", "10", "out of range"),
        ("OPSDECK_OCR_RESULT_TTL_SECONDS", "1", "out of range"),
    ];
    for (var, value, reason) in cases {
        Jail::expect_with(|jail| {
            jail.set_env(var, value);
            let message = refusal(load(jail, None));
            let key = var.trim_start_matches("OPSDECK_").to_ascii_lowercase();
            assert!(message.contains(&format!("`{key}`")), "{var}={value}: {message}");
            assert!(message.contains(var), "{var}={value}: {message}");
            assert!(message.contains(reason), "{var}={value}: {message}");
            Ok(())
        });
    }
}

#[test]
fn a_bad_file_is_refused_naming_the_file_and_key() {
    Jail::expect_with(|jail| {
        let message = refusal(load(jail, Some("redis_prefx = \"typo\"\n")));
        assert!(message.contains("opsdeck.toml"), "{message}");
        assert!(message.contains("unknown key `redis_prefx`"), "{message}");

        let message = refusal(load(jail, Some("health_timeout_ms = \"slow\"\n")));
        assert!(message.contains("`health_timeout_ms`"), "{message}");
        assert!(message.contains("opsdeck.toml"), "{message}");

        let message = refusal(load(jail, Some("timezone = \n")));
        assert!(message.contains("opsdeck.toml"), "{message}");
        Ok(())
    });
}

#[test]
fn an_explicit_config_path_must_exist() {
    let missing = opsdeck_core::ConfigSource { file: Some(PathBuf::from("/nonexistent/opsdeck.toml")) };
    let message = Config::load(&missing).unwrap_err().to_string();
    assert!(message.contains("/nonexistent/opsdeck.toml"), "{message}");
    assert!(message.contains("no such file"), "{message}");
}

#[test]
fn a_value_that_is_not_a_number_is_refused_in_plain_words() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_OCR_QPS", "abc");
        assert_eq!(
            refusal(load(jail, None)),
            "invalid configuration: `ocr_qps` (from OPSDECK_OCR_QPS): \"abc\" is not a number; \
             give calls per second, e.g. 2 or 10"
        );
        Ok(())
    });
}

#[test]
fn a_bad_file_value_names_the_key_its_variable_and_a_good_value() {
    Jail::expect_with(|jail| {
        let message = refusal(load(jail, Some("health_timeout_ms = \"slow\"\n")));
        let file = jail.directory().join("opsdeck.toml");
        assert_eq!(
            message,
            format!(
                "invalid configuration: `health_timeout_ms` (from {}; environment variable \
                 OPSDECK_HEALTH_TIMEOUT_MS): \"slow\" is not a whole number; give milliseconds, e.g. 1500",
                file.display()
            )
        );
        let message = refusal(load(jail, Some("scheduler_enabled = \"sometimes\"\n")));
        assert!(message.contains("`scheduler_enabled`") && message.contains("OPSDECK_SCHEDULER_ENABLED"), "{message}");
        assert!(message.ends_with("\"sometimes\" is not true or false; give true or false"), "{message}");
        Ok(())
    });
}

#[test]
fn a_bad_secret_is_refused_without_its_value() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_METRICS_TOKEN", "s3cr3t with-space-0123456789");
        let message = refusal(load(jail, None));
        assert!(message.contains("`metrics_token` (from OPSDECK_METRICS_TOKEN)"), "{message}");
        assert!(message.contains("must not contain spaces"), "{message}");
        assert!(!message.contains("s3cr3t"), "the secret was printed: {message}");
        Ok(())
    });
}

#[test]
fn an_out_of_range_value_says_the_range_and_a_good_value() {
    Jail::expect_with(|jail| {
        jail.set_env("OPSDECK_SANDBOX_PAY_RATIO", "1.5");
        let message = refusal(load(jail, None));
        assert!(
            message.ends_with(
                "`sandbox_pay_ratio` (from OPSDECK_SANDBOX_PAY_RATIO): 1.5 is out of range (0–1); \
                 give a share between 0 and 1, e.g. 0.7"
            ),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn every_declared_key_is_read_from_the_file_and_the_environment() {
    // Each key's own default, given back through the file and then the environment, loads and
    // is attributed to that layer: the loader reads every declared key by its declaration.
    Jail::expect_with(|jail| {
        let with_value: Vec<(&str, String)> = keys::all()
            .filter_map(|key| {
                let value = match key.default {
                    keys::Builtin::Text(text) => format!("{text:?}"),
                    keys::Builtin::Int(n) => n.to_string(),
                    keys::Builtin::Float(x) => format!("{x:?}"),
                    keys::Builtin::Bool(b) => b.to_string(),
                    keys::Builtin::Unset | keys::Builtin::Derived(_) => return None,
                };
                Some((key.name, value))
            })
            .collect();
        assert!(with_value.len() > 30, "{with_value:?}");
        let file: String = with_value.iter().map(|(name, value)| format!("{name} = {value}\n")).collect();
        let config = load(jail, Some(&file)).unwrap();
        for (name, _) in &with_value {
            assert!(config.sources[name].ends_with("opsdeck.toml"), "{name}: {}", config.sources[name]);
        }
        for (name, value) in &with_value {
            jail.set_env(keys::env_var(name), value.trim_matches('"'));
        }
        let config = load(jail, Some(&file)).unwrap();
        for (name, _) in &with_value {
            assert_eq!(config.sources[name], keys::env_var(name));
        }
        Ok(())
    });
}

#[test]
fn the_configuration_docs_are_generated_from_the_declarations() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = keys::docs_markdown();
    if committed != generated {
        let first_difference = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or_else(|| "its length".to_string(), |line| format!("line {}", line + 1));
        panic!(
            "docs/configuration.md differs from the declarations in crates/opsdeck-core/src/config/table.rs \
             (first at {first_difference}); regenerate it: {}",
            keys::DOCS_COMMAND
        );
    }
}
