//! A JSON body's refusal in plain words, naming the field: serde's messages ("invalid type:
//! integer `5`, expected a string at line 1 column 12", "unknown variant `x`, expected `front`
//! or `back`") rewritten as "`side` must be one of: front, back (got `x`)", with `field` set.

use opsdeck_api::ErrorCode;

use super::error::HttpError;

/// The refusal of a body that is JSON but not the expected shape (`path` as
/// `serde_path_to_error` prints it: `side`, `items[0].qty`, `.` for the top level).
pub fn data_error(path: &str, error: &serde_json::Error) -> HttpError {
    let path = if path == "." { "" } else { path };
    let message = bare(error);
    // A field the body lacks or has too many of is named by the message, under `path`.
    if let Some(name) = between(&message, "missing field `", "`") {
        let field = join(path, name);
        return HttpError::invalid_field(&field, format!("`{field}` is required"));
    }
    if let Some(name) = between(&message, "unknown field `", "`") {
        // The path already ends at the unknown field.
        let field =
            if path == name || path.ends_with(&format!(".{name}")) { path.to_string() } else { join(path, name) };
        let known = expected_list(&message);
        let message = if known.is_empty() {
            format!("unknown field `{field}`: this body takes no fields")
        } else {
            format!("unknown field `{field}`; the fields are: {}", known.join(", "))
        };
        return HttpError::invalid_field(&field, message);
    }
    let field = if path.is_empty() { "body".to_string() } else { path.to_string() };
    let subject = if path.is_empty() { "the body".to_string() } else { format!("`{path}`") };
    if let Some(got) = between(&message, "unknown variant `", "`") {
        let values = expected_list(&message);
        return HttpError::invalid_field(
            &field,
            format!("{subject} must be one of: {} (got `{got}`)", values.join(", ")),
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.split_once(", expected ")
        {
            return HttpError::invalid_field(
                &field,
                format!("{subject} must be {}, got {}", plain_expected(expected), plain_got(got)),
            );
        }
    }
    // The type's own words (a custom check in its Deserialize).
    HttpError::invalid_field(&field, format!("{subject}: {message}"))
}

/// A body that is not JSON at all (or ends early).
pub fn syntax_error(error: &serde_json::Error) -> HttpError {
    let what = if error.is_eof() { "it ends too early".to_string() } else { bare(error) };
    HttpError::new(
        ErrorCode::InvalidInput,
        format!("the body is not valid JSON: {what} (line {}, character {})", error.line(), error.column()),
    )
}

/// serde_json's message without its position suffix.
fn bare(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// The backquoted names after "expected" (`expected `a` or `b``, `expected one of `a`, `b``).
fn expected_list(message: &str) -> Vec<String> {
    let Some((_, expected)) = message.split_once("expected ") else { return Vec::new() };
    expected.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// serde's expectation ("a string", "u32", "struct OrderDraft", "a sequence") in plain words.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object".into(),
        e if e.starts_with("internally tagged enum") || e.starts_with("enum ") => "an object".into(),
        e => e.to_string(),
    }
}

/// serde's description of the value found ("integer `5`", "string \"x\"", "map") in plain words.
fn plain_got(got: &str) -> String {
    match got {
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        "null" => "null".into(),
        "unit value" => "null".into(),
        g => {
            let g = g.replacen("integer ", "the number ", 1).replacen("floating point ", "the number ", 1);
            g.replacen("string ", "the text ", 1).replacen("boolean ", "", 1)
        }
    }
}
