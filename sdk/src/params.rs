//! Deserializing JSON with messages that name the field, not a line and column.

use serde::de::DeserializeOwned;

/// Deserialize the step params `json` into `P`.
///
/// A mismatch is [`StepError::InvalidParams`](crate::StepError::InvalidParams) with serde's
/// message prefixed by the path of the field that failed (`response.result_code[1]: ...`).
/// The position in the JSON text is left out: the host renders that text, the user never
/// wrote it.
pub fn parse_params<P: DeserializeOwned>(json: &str) -> Result<P, crate::StepError> {
    from_json_bytes(json.as_bytes()).map_err(crate::StepError::invalid_params)
}

/// Deserialize `json`, describing a failure as `path: message`.
pub(crate) fn from_json_bytes<T: DeserializeOwned>(json: &[u8]) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
    de.end().map_err(|e| without_position(&e))?;
    Ok(value)
}

fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let message = without_position(error.inner());
    if path.is_empty() || path == "." {
        message
    } else {
        format!("{path}: {message}")
    }
}

fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if error.line() == 0 {
        return message;
    }
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepError;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        url: String,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        codes: Vec<u16>,
    }

    fn err(json: &str) -> String {
        match parse_params::<P>(json) {
            Err(StepError::InvalidParams(m)) => m,
            other => panic!("expected invalid params, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_path() {
        assert_eq!(err(r#"{}"#), "missing field `url`");
        assert_eq!(
            err(r#"{"url":"x","inner":{"codes":[200,"2xx"]}}"#),
            "inner.codes[1]: invalid type: string \"2xx\", expected u16"
        );
        assert_eq!(
            err(r#"{"url":"x","nope":1}"#),
            "nope: unknown field `nope`, expected `url` or `inner`"
        );
        assert_eq!(err(r#"{"url":"x"} trailing"#), "trailing characters");
        assert_eq!(err(r#"{"url":"#), "url: EOF while parsing a value");
        assert_eq!(err("1"), "invalid type: integer `1`, expected struct P");
    }

    #[test]
    fn valid_params_parse() {
        let p: P = parse_params(r#"{"url":"x","inner":null}"#).expect("valid");
        assert_eq!(p.url, "x");
    }
}
