//! What a successful step returns: named string values (WIT `step-output`).

/// Named string values a step produced, in insertion order (the host stores and prints them
/// in this order, so it must be deterministic).
///
/// Inserting a name that is already there replaces its value in place.
///
/// ```
/// use apirun_sdk::Outputs;
///
/// let mut out = Outputs::new().with("id", "7");
/// out.insert("name", "ada");
/// out.insert("id", "8");
/// assert_eq!(out.get("id"), Some("8"));
/// assert_eq!(out.names().collect::<Vec<_>>(), ["id", "name"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    entries: Vec<(String, String)>,
}

impl Outputs {
    /// No outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set `name` to `value` (replacing an earlier value, keeping its position).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// These outputs with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many outputs there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `(name, value)` pairs in order.
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.entries
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Outputs {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut out = Self::new();
        out.extend(iter);
        out
    }
}

impl<N: Into<String>, V: Into<String>> Extend<(N, V)> for Outputs {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

impl IntoIterator for Outputs {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_replaces_in_place() {
        let out: Outputs = [("b", "1"), ("a", "2"), ("b", "3")].into_iter().collect();
        assert_eq!(out.iter().collect::<Vec<_>>(), [("b", "3"), ("a", "2")]);
        assert_eq!(out.len(), 2);
        assert!(out.contains("a") && !out.contains("c"));
        assert!(Outputs::new().is_empty());
        assert_eq!(
            out.into_vec(),
            vec![
                ("b".to_owned(), "3".to_owned()),
                ("a".to_owned(), "2".to_owned())
            ]
        );
    }
}
