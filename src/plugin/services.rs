//! The go-plugin side services every plugin serves next to its own: the controller (Terraform
//! asks us to exit) and stdio (Terraform subscribes to our output; we keep it empty, because
//! anything sent there is logged as unexpected). The broker is optional and not served.

use std::pin::Pin;

use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::proto::go_plugin as pb;

/// Handles `plugin.GRPCController/Shutdown` by flipping a watch that the server loop awaits.
pub struct Controller {
    pub shutdown: watch::Sender<bool>,
}

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::debug!("shutdown requested by Terraform");
        let _ = self.shutdown.send(true);
        Ok(Response::new(pb::Empty {}))
    }
}

pub struct Stdio;

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream = Pin<Box<dyn Stream<Item = Result<pb::StdioData, Status>> + Send>>;

    async fn stream_stdio(&self, _: Request<()>) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::pending())))
    }
}
