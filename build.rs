//! Compiles `proto/servscore/v1/*.proto` without a system `protoc` (protox), generates the
//! tonic/prost code, embeds the encoded descriptor set for reflection, and writes one static
//! tracing span constructor per RPC (span names must be `'static`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::{env, fs};

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from("proto");
    let mut protos: Vec<PathBuf> = fs::read_dir(proto_root.join("servscore/v1"))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    protos.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    protos.sort();

    let mut compiler = protox::Compiler::new([&proto_root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&protos)?;
    let descriptor_set = compiler.file_descriptor_set();

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("servscore_descriptor.bin"),
        descriptor_set.encode_to_vec(),
    )?;
    fs::write(out_dir.join("rpc_spans.rs"), rpc_spans(&descriptor_set))?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .compile_fds(descriptor_set)?;

    println!("cargo:rerun-if-changed=proto");
    Ok(())
}

/// `fn rpc_span(path) -> Option<Span>` with one `info_span!` per method of `servscore.v1`,
/// named `Service.Method`.
fn rpc_spans(descriptor_set: &prost_types::FileDescriptorSet) -> String {
    let mut code = String::from(
        "/// The tracing span of one RPC, named `Service.Method`, or `None` for an unknown path.\n\
         pub(crate) fn rpc_span(path: &str) -> Option<tracing::Span> {\n    match path {\n",
    );
    for file in &descriptor_set.file {
        if file.package() != "servscore.v1" {
            continue;
        }
        for service in &file.service {
            for method in &service.method {
                writeln!(
                    code,
                    "        \"/{package}.{service}/{method}\" => Some(tracing::info_span!(\"{service}.{method}\")),",
                    package = file.package(),
                    service = service.name(),
                    method = method.name(),
                )
                .expect("writing to a String");
            }
        }
    }
    code.push_str("        _ => None,\n    }\n}\n");
    code
}
