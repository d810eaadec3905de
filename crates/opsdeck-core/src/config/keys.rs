//! What a configuration key is made of, and what is made from the declarations: the environment
//! variable of a key, the defaults layer, the generated `docs/configuration.md`.
//!
//! The keys themselves are declared once, in [`table`](super::table): everything that lists keys
//! (the loader, the validation, `check-config`, the documentation) reads that table.

use figment::value::{Dict, Value};

use super::Config;
pub use super::table::SECTIONS;

/// The prefix of every environment variable: `OPSDECK_` and the key in capitals.
pub const ENV_PREFIX: &str = "OPSDECK_";

/// The command that writes `docs/configuration.md` from the declarations.
pub const DOCS_COMMAND: &str = "cargo run -p opsdeckd -- config-docs > docs/configuration.md";

/// One configuration key, declared once.
#[derive(Clone, Copy)]
pub struct Key {
    /// The key in the file (`ocr_qps`); its environment variable is [`Key::env_var`].
    pub name: &'static str,
    /// The built-in default.
    pub default: Builtin,
    /// Never printed: `check-config` shows only whether it is set, refusals leave it out.
    pub secret: bool,
    /// What a value must be; the loader parses and checks it by this.
    pub kind: Kind,
    /// A good value in plain words, with an example; it ends every refusal of a bad value.
    pub expect: &'static str,
    /// What the key does (the documentation's description).
    pub help: &'static str,
    /// The effective value as `check-config` shows it (`None`: not set). For a secret only
    /// whether it is set counts: the text is never shown.
    pub show: fn(&Config) -> Option<String>,
}

/// A key's built-in default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Builtin {
    Text(&'static str),
    Int(u64),
    Float(f64),
    Bool(bool),
    /// No value: the feature it configures is off, or a built-in fake stands in.
    Unset,
    /// Worked out at start-up as the text says (e.g. from the platform or another key).
    Derived(&'static str),
}

/// What a key's value must be.
#[derive(Clone, Copy)]
pub enum Kind {
    /// A whole number in `min..=max`.
    Int { min: u64, max: u64 },
    /// A number in `min..=max`.
    Float { min: f64, max: f64 },
    /// `true` or `false`.
    Bool,
    /// Text the function accepts (`Err` holds why not, without the value for a secret). An
    /// optional key's text is trimmed first, and empty counts as not set.
    Text(fn(&str) -> Result<(), String>),
}

impl Key {
    /// `OPSDECK_` and the key in capitals.
    pub fn env_var(&self) -> String {
        env_var(self.name)
    }

    /// The default as the documentation shows it.
    pub fn default_text(&self) -> String {
        match self.default {
            Builtin::Text(text) => format!("`{text}`"),
            Builtin::Int(n) => format!("`{n}`"),
            Builtin::Float(x) => format!("`{x}`"),
            Builtin::Bool(b) => format!("`{b}`"),
            Builtin::Unset => "unset".into(),
            Builtin::Derived(how) => how.into(),
        }
    }

    /// The default as the defaults layer holds it (`None`: no value).
    pub(super) fn default_value(&self) -> Option<Value> {
        match self.default {
            Builtin::Text(text) => Some(Value::from(text)),
            Builtin::Int(n) => Some(Value::from(n)),
            Builtin::Float(x) => Some(Value::from(x)),
            Builtin::Bool(b) => Some(Value::from(b)),
            Builtin::Unset | Builtin::Derived(_) => None,
        }
    }
}

/// A group of keys about one thing (one heading of the documentation).
pub struct Section {
    pub title: &'static str,
    pub keys: &'static [Key],
}

/// Every key, in the order of the declarations (`check-config` prints them so).
pub fn all() -> impl Iterator<Item = &'static Key> {
    SECTIONS.iter().flat_map(|section| section.keys.iter())
}

/// The declaration of `name`, if it is a key.
pub fn find(name: &str) -> Option<&'static Key> {
    all().find(|key| key.name == name)
}

/// The declaration of a key the code names; a name not declared is a bug, caught by any load.
pub(super) fn declared(name: &str) -> &'static Key {
    find(name).unwrap_or_else(|| panic!("configuration key `{name}` is not declared in config/table.rs"))
}

/// `OPSDECK_` and the key in capitals.
pub fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// How to configure something, in words: `set a, b in the configuration file (or OPSDECK_A, …)`.
pub fn how_to_configure(keys: &[&str]) -> String {
    let vars: Vec<String> = keys.iter().map(|k| env_var(k)).collect();
    format!("set {} in the configuration file (or {})", keys.join(", "), vars.join(", "))
}

/// The defaults layer: every key that has a built-in value, and the data directory.
pub(super) fn defaults(data_dir: &std::path::Path) -> Dict {
    let mut dict: Dict = all().filter_map(|key| Some((key.name.to_string(), key.default_value()?))).collect();
    dict.insert("data_dir".into(), Value::from(data_dir.to_string_lossy().into_owned()));
    dict
}

/// `docs/configuration.md`: every key in a table per section, made from the declarations.
pub fn docs_markdown() -> String {
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = format!(
        "_Generated from the declarations in `crates/opsdeck-core/src/config/table.rs` by `{DOCS_COMMAND}`; \
         do not edit by hand._\n\n\
         # Configuration\n\n\
         Built-in defaults → a TOML file (`--config PATH`, else `~/.config/opsdeck/config.toml` if it exists) → \
         `OPSDECK_…` environment variables. `opsdeckd check-config` prints the effective values and where each \
         came from; a secret is only said to be set or not, never printed.\n"
    );
    for section in SECTIONS {
        out.push_str(&format!(
            "\n## {}\n\n| key (file) | environment | default | secret | description |\n|---|---|---|---|---|\n",
            section.title
        ));
        for key in section.keys {
            let range = match key.kind {
                Kind::Int { min, max } => format!(" Range: {min}–{max}."),
                Kind::Float { min, max } => format!(" Range: {min}–{max}."),
                Kind::Bool | Kind::Text(_) => String::new(),
            };
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} | {} |\n",
                key.name,
                key.env_var(),
                cell(&key.default_text()),
                if key.secret { "yes" } else { "no" },
                cell(&format!("{}{range}", key.help))
            ));
        }
    }
    out
}
