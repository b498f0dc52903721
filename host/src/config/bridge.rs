//! What other modules need from a [`Config`], in the shapes they use: the HTTP client's
//! settings, the parsed host allowlist, and the global variables as plain pairs. Kept in one
//! file so the coupling between config and the rest of the crate is visible in one place.

use super::model::{Config, TlsVersion};
use crate::http::{ClientSettings, HostRule};
use crate::report::{Diagnostic, Located};

/// The HTTP client settings for a project: `client:` applied over the safe defaults.
pub fn client_settings(config: &Config) -> ClientSettings {
    let tls = |v: TlsVersion| match v {
        TlsVersion::V1_0 => crate::http::TlsVersion::V1_0,
        TlsVersion::V1_1 => crate::http::TlsVersion::V1_1,
        TlsVersion::V1_2 => crate::http::TlsVersion::V1_2,
        TlsVersion::V1_3 => crate::http::TlsVersion::V1_3,
    };
    ClientSettings {
        insecure: config.client.insecure,
        min_tls_version: config.client.min_tls_version.map(tls),
        max_tls_version: config.client.max_tls_version.map(tls),
        ..ClientSettings::default()
    }
}

/// The top-level `allowed_hosts` parsed into rules; `None` when the config does not restrict
/// hosts. Rules were already checked at load, so an error here means the config was built by
/// hand.
pub fn allowed_hosts(config: &Config) -> Result<Option<Vec<HostRule>>, Diagnostic> {
    let Some(hosts) = &config.allowed_hosts else {
        return Ok(None);
    };
    hosts
        .iter()
        .map(|h| {
            HostRule::parse(&h.value).map_err(|e| Diagnostic::at(h.location.clone(), e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Whether response bodies are recorded (`store.save_response_body`; false for a disabled store).
pub fn save_response_body(config: &Config) -> bool {
    config.store.options().is_some_and(|o| o.save_response_body)
}

/// The global variables as `(name, value)` pairs, in file order.
pub fn env_pairs(config: &Config) -> Vec<(String, String)> {
    config
        .env
        .iter()
        .map(|v| (v.name.clone(), v.value.value.clone()))
        .collect()
}

/// A host rule that does not parse, as a located problem (used at load time).
pub(crate) fn check_host_rule(host: &Located<String>) -> Option<Diagnostic> {
    HostRule::parse(&host.value).err().map(|e| {
        Diagnostic::at(host.location.clone(), e.to_string())
            .with_hint("write `host`, `host:port`, `*.example.com` or `https://host[:port]`")
    })
}
