//! proto3 JSON (and TOML written in the same mapping) for any servscore message, through the
//! embedded descriptors: what the CLI reads and prints, and the format of the built-in
//! standard's data file.

use prost::Message;
use prost_reflect::{DynamicMessage, SerializeOptions};

use crate::proto::descriptor_pool;

fn descriptor(full_name: &str) -> prost_reflect::MessageDescriptor {
    descriptor_pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} is a message of the embedded descriptors"))
}

fn transcode<T: Message + Default>(dynamic: DynamicMessage) -> Result<T, String> {
    dynamic
        .transcode_to::<T>()
        .map_err(|error| format!("cannot convert the message: {error}"))
}

/// Parses proto3 JSON into `T`, whose full proto name is `full_name`.
pub fn from_json<T: Message + Default>(full_name: &str, text: &str) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let dynamic = DynamicMessage::deserialize(descriptor(full_name), &mut deserializer)
        .map_err(|error| error.to_string())?;
    deserializer.end().map_err(|error| error.to_string())?;
    transcode(dynamic)
}

/// Parses TOML written in the proto3 JSON mapping into `T`.
pub fn from_toml<T: Message + Default>(full_name: &str, text: &str) -> Result<T, String> {
    let value: toml::Value = toml::from_str(text).map_err(|error| error.to_string())?;
    let dynamic = DynamicMessage::deserialize(descriptor(full_name), value)
        .map_err(|error| error.to_string())?;
    transcode(dynamic)
}

/// Prints `message` as indented proto3 JSON.
pub fn to_json<T: Message>(full_name: &str, message: &T) -> String {
    let dynamic = DynamicMessage::decode(descriptor(full_name), message.encode_to_vec().as_slice())
        .expect("a message decodes with its own descriptor");
    let mut output = Vec::new();
    let mut serializer = serde_json::Serializer::pretty(&mut output);
    dynamic
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .expect("proto3 JSON serialises");
    String::from_utf8(output).expect("JSON is UTF-8")
}
