//! Step types available to a project: the built-in `http` step and the plugins its config
//! registers, each with the policy that bounds what it may reach.
//!
//! Custom plugins are deny-by-default: a plugin reaches only the hosts listed in its own
//! `allowed_hosts`, and, when the config has a top-level `allowed_hosts`, only those that are
//! in both. The built-in `http` step is bounded by the top-level list alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Limits, LoadError, MAX_MEMORY_LIMIT, Plugin, Runtime};
use crate::config::{Config, PluginConfig};
use crate::http::{HostPolicy, HostRule};
use crate::report::Diagnostic;

/// One step type: a loaded plugin and what it may reach.
#[derive(Debug, Clone)]
pub struct StepType {
    pub plugin: Arc<Plugin>,
    pub policy: HostPolicy,
    /// Whether it is compiled into apirun.
    pub builtin: bool,
}

/// The step types of a project, by the name migrations use in `type:`.
#[derive(Debug, Clone, Default)]
pub struct StepTypes {
    types: BTreeMap<String, StepType>,
}

/// Why a registered plugin could not be made available.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Config(Diagnostic),
    #[error(transparent)]
    Load(#[from] LoadError),
}

fn parse_rules(hosts: &[crate::report::Located<String>]) -> Result<Vec<HostRule>, RegistryError> {
    hosts
        .iter()
        .map(|h| {
            HostRule::parse(&h.value).map_err(|e| {
                RegistryError::Config(Diagnostic::at(h.location.clone(), e.to_string()))
            })
        })
        .collect()
}

/// The lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The limits a registered plugin runs under: the runtime's defaults, overridden by config.
pub fn limits_for(plugin: &PluginConfig) -> Limits {
    let mut limits = Limits::default();
    if let Some(m) = plugin.limits.memory_bytes {
        limits.memory_bytes = usize::try_from(m)
            .unwrap_or(MAX_MEMORY_LIMIT)
            .min(MAX_MEMORY_LIMIT);
    }
    if let Some(f) = plugin.limits.fuel {
        limits.fuel = f;
    }
    if let Some(t) = plugin.limits.timeout {
        limits.timeout = t;
    }
    limits
}

/// Read a registered plugin's component, refusing it when its sha256 does not match the pin.
pub fn read_component(plugin: &PluginConfig) -> Result<Vec<u8>, RegistryError> {
    let bytes = std::fs::read(&plugin.path.value).map_err(|e| {
        RegistryError::Config(
            Diagnostic::at(
                plugin.path.location.clone(),
                format!("plugin `{}`: cannot read {}: {e}", plugin.name.value, plugin.path.value.display()),
            )
            .with_hint("the path is relative to config.yaml; build the plugin with `cargo build --release --target wasm32-wasip2`"),
        )
    })?;
    if let Some(pin) = &plugin.sha256 {
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(pin.value.trim()) {
            return Err(RegistryError::Config(
                Diagnostic::at(
                    pin.location.clone(),
                    format!(
                        "plugin `{}`: {} has sha256 {actual}, but the config pins {}",
                        plugin.name.value,
                        plugin.path.value.display(),
                        pin.value.trim()
                    ),
                )
                .with_hint("the file changed since it was pinned: check where it came from, then update `sha256`"),
            ));
        }
    }
    Ok(bytes)
}

/// A registered plugin that cannot be loaded is a mistake in the config (a wrong file, a
/// plugin built for another apirun): point at its `path`. Engine failures stay as they are.
pub fn located_load_error(plugin: &PluginConfig, err: LoadError) -> RegistryError {
    if matches!(err, LoadError::Engine(_)) {
        return RegistryError::Load(err);
    }
    let mut d = Diagnostic::at(
        plugin.path.location.clone(),
        format!("{err} (file {})", plugin.path.value.display()),
    );
    if let Some(hint) = err.hint() {
        d = d.with_hint(hint);
    }
    RegistryError::Config(d)
}

impl StepTypes {
    /// The built-in step types plus every plugin the config registers.
    pub fn from_config(runtime: &Runtime, config: &Config) -> Result<Self, RegistryError> {
        let top = match &config.allowed_hosts {
            Some(hosts) => Some(parse_rules(hosts)?),
            None => None,
        };
        let mut types = Self::builtin(runtime, top.clone())?.types;
        for p in &config.plugins {
            let name = p.name.value.clone();
            let bytes = read_component(p)?;
            let plugin = runtime
                .load(&name, &bytes, limits_for(p))
                .map_err(|e| located_load_error(p, e))?;
            let mut policy = HostPolicy::allow_all(format!("plugin `{name}`"));
            if let Some(rules) = &top {
                policy = policy.restrict(rules.clone());
            }
            policy = policy.restrict(parse_rules(&p.allowed_hosts)?);
            types.insert(
                name,
                StepType {
                    plugin: Arc::new(plugin),
                    policy,
                    builtin: false,
                },
            );
        }
        Ok(Self { types })
    }

    /// Only the step types compiled into apirun, bounded by `allowed` when given.
    pub fn builtin(runtime: &Runtime, allowed: Option<Vec<HostRule>>) -> Result<Self, LoadError> {
        let mut http_policy = HostPolicy::allow_all("step type `http`");
        if let Some(rules) = allowed {
            http_policy = http_policy.restrict(rules);
        }
        let mut types = BTreeMap::new();
        types.insert(
            "http".to_string(),
            StepType {
                plugin: Arc::new(runtime.builtin_http(Limits::default())?),
                policy: http_policy,
                builtin: true,
            },
        );
        Ok(Self { types })
    }

    /// The step type a migration selects with `type: NAME`.
    pub fn get(&self, name: &str) -> Option<&StepType> {
        self.types.get(name)
    }

    /// Every step type name, sorted (for did-you-mean suggestions).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    /// Every step type with its name, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StepType)> {
        self.types.iter().map(|(k, v)| (k.as_str(), v))
    }
}
