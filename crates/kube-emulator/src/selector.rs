//! Label and field selectors, as list and watch requests carry them.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (`a=b,c!=d,e in (f,g),!h`).
#[derive(Debug, Clone, Default)]
pub(crate) struct LabelSelector(Vec<LabelReq>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn set_values(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(|v| v.trim().to_string())
        .collect()
}

impl LabelSelector {
    /// Parses a selector; `None` if it is malformed.
    pub fn parse(s: &str) -> Option<LabelSelector> {
        let mut reqs = vec![];
        for part in split_top(s) {
            let req = if let Some(k) = part.strip_prefix('!') {
                LabelReq::NotExists(k.trim().into())
            } else if let Some((k, v)) = part.split_once(" notin ") {
                LabelReq::NotIn(k.trim().into(), set_values(v))
            } else if let Some((k, v)) = part.split_once(" in ") {
                LabelReq::In(k.trim().into(), set_values(v))
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if part.contains(' ') || part.contains('(') {
                return None;
            } else {
                LabelReq::Exists(part)
            };
            reqs.push(req);
        }
        Some(LabelSelector(reqs))
    }

    /// A `metav1.LabelSelector` (`matchLabels` and `matchExpressions`), its requirements
    /// sorted by key as kube-apiserver sorts them; `None` if an operator is not one it knows.
    pub fn from_object(selector: &Value) -> Option<LabelSelector> {
        let mut reqs = vec![];
        for (k, v) in selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            reqs.push(LabelReq::Eq(
                k.clone(),
                v.as_str().unwrap_or_default().into(),
            ));
        }
        for e in selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = e
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let mut values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            values.sort();
            reqs.push(match e.get("operator").and_then(Value::as_str)? {
                "In" => LabelReq::In(key, values),
                "NotIn" => LabelReq::NotIn(key, values),
                "Exists" => LabelReq::Exists(key),
                "DoesNotExist" => LabelReq::NotExists(key),
                _ => return None,
            });
        }
        reqs.sort_by(|a, b| a.key().cmp(b.key()));
        Some(LabelSelector(reqs))
    }

    /// Whether the selector has no requirements (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True if the object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_labels(&obj["metadata"]["labels"])
    }

    /// True if `labels` (a map, or null) satisfy every requirement.
    pub fn matches_labels(&self, labels: &Value) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

impl LabelReq {
    fn key(&self) -> &str {
        match self {
            LabelReq::Eq(k, _)
            | LabelReq::NotEq(k, _)
            | LabelReq::In(k, _)
            | LabelReq::NotIn(k, _)
            | LabelReq::Exists(k)
            | LabelReq::NotExists(k) => k,
        }
    }
}

/// As kube-apiserver prints a selector: `app=web,tier in (a,b),!legacy`.
impl std::fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reqs: Vec<String> = self
            .0
            .iter()
            .map(|r| match r {
                LabelReq::Eq(k, v) => format!("{k}={v}"),
                LabelReq::NotEq(k, v) => format!("{k}!={v}"),
                LabelReq::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                LabelReq::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                LabelReq::Exists(k) => k.clone(),
                LabelReq::NotExists(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&reqs.join(","))
    }
}

/// A parsed field selector: `path=value` / `path!=value` terms on dotted paths
/// (`metadata.name`, `metadata.namespace`, `involvedObject.name`, `type`, ...).
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a selector; `None` if it is malformed.
    pub fn parse(s: &str) -> Option<FieldSelector> {
        let mut terms = vec![];
        for part in split_top(s) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return None;
            };
            terms.push((k.trim().to_string(), eq, v.trim().to_string()));
        }
        Some(FieldSelector(terms))
    }

    /// The value `field` must equal (`field=value` or `==`), if a term says so:
    /// kube's `RequiresExactMatch`.
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(path, eq, _)| *eq && path == field)
            .map(|(_, _, value)| value.as_str())
    }

    /// True if every term holds for the object.
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for seg in path.split('.') {
                cur = &cur[seg];
            }
            let have = match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_match_equality_sets_and_existence() {
        let o = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        assert!(
            LabelSelector::parse("app=web,tier in (front,back)").is_some_and(|s| s.matches(&o))
        );
        assert!(LabelSelector::parse("app!=web").is_some_and(|s| !s.matches(&o)));
        assert!(LabelSelector::parse("!missing,app").is_some_and(|s| s.matches(&o)));
        assert!(LabelSelector::parse("tier notin (front)").is_some_and(|s| !s.matches(&o)));
    }

    #[test]
    fn field_selectors_match_nested_paths() {
        let o = json!({"metadata": {"name": "a"}, "involvedObject": {"kind": "X"}});
        assert!(
            FieldSelector::parse("metadata.name=a,involvedObject.kind=X")
                .is_some_and(|s| s.matches(&o))
        );
        assert!(FieldSelector::parse("metadata.name!=a").is_some_and(|s| !s.matches(&o)));
    }
}
