//! The generated wire types of `servscore.v1` and the embedded descriptor set (for reflection,
//! proto3 JSON and per-method metrics).

use std::sync::OnceLock;

use prost_reflect::DescriptorPool;

/// Generated messages, enums, clients and servers of package `servscore.v1`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    tonic::include_proto!("servscore.v1");
}

include!(concat!(env!("OUT_DIR"), "/rpc_spans.rs"));

/// The encoded `FileDescriptorSet` of every servscore proto file and its imports, with source
/// info (comments), as served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/servscore_descriptor.bin"));

/// The descriptor pool decoded from [`FILE_DESCRIPTOR_SET`], built once.
pub fn descriptor_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(FILE_DESCRIPTOR_SET).expect("the embedded descriptor set decodes")
    })
}
