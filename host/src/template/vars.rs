//! The variables a template sees: plain string variables and auth tokens.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Variables visible to a template: plain string variables plus auth tokens.
///
/// Kept as two sorted maps so that the data handed to the engine, and anything printed about
/// it (did-you-mean suggestions), is deterministic. Precedence between the many sources of a
/// variable is the caller's business: the last `insert` of a name wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    vars: BTreeMap<String, String>,
    auth: BTreeMap<String, String>,
}

impl Vars {
    /// An empty set, to be filled by the caller in precedence order.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable, reachable as `{{.name}}`, `{{name}}`, `{{.env.name}}` and `{{env.name}}`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Sets an auth token, reachable as `{{.auth.name}}` and `{{auth.name}}`.
    pub fn insert_auth(&mut self, name: impl Into<String>, token: impl Into<String>) {
        self.auth.insert(name.into(), token.into());
    }

    /// The value of a variable, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The token of an auth entry, if set.
    pub fn get_auth(&self, name: &str) -> Option<&str> {
        self.auth.get(name).map(String::as_str)
    }

    /// Variables in name order, for callers that list or persist them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Auth entries in name order (tokens included: callers must mask them before printing).
    pub fn iter_auth(&self) -> impl Iterator<Item = (&str, &str)> {
        self.auth.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of plain variables (auth tokens not counted).
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// True when there are no plain variables (auth tokens not counted, as in `len`).
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// The data model handed to the engine: every variable flat and under `env`, tokens under
    /// `auth`. `env` and `auth` win over flat variables of the same name (those stay
    /// reachable as `env.env` / `env.auth`).
    pub(crate) fn to_json(&self) -> Value {
        let env: Map<String, Value> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let auth: Map<String, Value> = self
            .auth
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut root = env.clone();
        root.insert("env".to_owned(), Value::Object(env));
        root.insert("auth".to_owned(), Value::Object(auth));
        Value::Object(root)
    }

    /// Variable names, for did-you-mean suggestions.
    pub(crate) fn var_names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }

    /// Auth entry names, for did-you-mean suggestions.
    pub(crate) fn auth_names(&self) -> impl Iterator<Item = &str> {
        self.auth.keys().map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut vars = Vars::new();
        for (k, v) in iter {
            vars.insert(k, v);
        }
        vars
    }
}
