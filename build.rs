//! Generates the tfplugin5 and go-plugin gRPC code. The .proto files are parsed by `protox`
//! (pure Rust), so building needs no protoc on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["tfplugin5.proto", "go-plugin.proto"], ["proto"])?;
    // Values and raw states are sliced out of the request buffer, not copied: a plan of 4,000
    // grants carries two states of about 4 MiB each (docs/performance.md, "Peak RSS").
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .build_transport(false)
        .bytes(".tfplugin5.DynamicValue")
        .bytes(".tfplugin5.RawState")
        .compile_fds(fds)?;
    Ok(())
}
