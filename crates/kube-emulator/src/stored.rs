//! An object as the store keeps it: the object without its `metadata.managedFields`, which
//! are kept as their JSON text instead. managedFields are nested maps that nothing but
//! server-side apply reads, and a `serde_json::Value` map costs a whole B-tree node: kept as
//! Values they were about half of the store's memory.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A stored object; it serializes (with serde_json) as the whole object.
#[derive(Debug)]
pub struct Stored {
    /// The object, without `metadata.managedFields`.
    pub object: Value,
    managed: Option<Box<RawValue>>,
}

impl Stored {
    /// Splits the managedFields out of `object`.
    pub fn new(mut object: Value) -> Self {
        let managed = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|m| m.remove("managedFields"))
            .and_then(|f| serde_json::value::to_raw_value(&f).ok());
        Stored { object, managed }
    }

    /// The whole object, managedFields included.
    pub fn to_value(&self) -> Value {
        let mut object = self.object.clone();
        if let Some(raw) = &self.managed
            && let Ok(fields) = serde_json::from_str::<Value>(raw.get())
            && let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.insert("managedFields".into(), fields);
        }
        object
    }
}

impl Serialize for Stored {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (Some(map), Some(managed)) = (self.object.as_object(), &self.managed) else {
            return self.object.serialize(serializer);
        };
        let mut out = serializer.serialize_map(Some(map.len()))?;
        for (k, v) in map {
            match v.as_object() {
                Some(meta) if k == "metadata" => {
                    out.serialize_entry(k, &WithManagedFields(meta, managed))?
                }
                _ => out.serialize_entry(k, v)?,
            }
        }
        out.end()
    }
}

/// Metadata with the managedFields put back, in key order as a Value map would have it.
struct WithManagedFields<'a>(&'a Map<String, Value>, &'a RawValue);

impl Serialize for WithManagedFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        const KEY: &str = "managedFields";
        let mut out = serializer.serialize_map(Some(self.0.len() + 1))?;
        let mut written = false;
        for (k, v) in self.0 {
            if !written && k.as_str() > KEY {
                out.serialize_entry(KEY, self.1)?;
                written = true;
            }
            out.serialize_entry(k, v)?;
        }
        if !written {
            out.serialize_entry(KEY, self.1)?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_object_serializes_as_the_whole_object() {
        let object = json!({"apiVersion": "v1", "metadata": {"name": "a", "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {}}}], "uid": "u"}, "spec": {"x": 1}});
        let stored = Stored::new(object.clone());
        assert!(stored.object["metadata"].get("managedFields").is_none());
        assert_eq!(
            serde_json::to_string(&stored).expect("serializes"),
            object.to_string()
        );
        assert_eq!(stored.to_value(), object);
        let plain = json!({"metadata": {"name": "b"}});
        assert_eq!(
            serde_json::to_string(&Stored::new(plain.clone())).expect("serializes"),
            plain.to_string()
        );
    }
}
