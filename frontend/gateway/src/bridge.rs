//! A small typed wrapper over the generated `LLBBridge` client.
//!
//! Every call takes `&self` (the tonic client is cloned per call, which is
//! cheap), so independent calls may run concurrently. Errors carry BuildKit's
//! gRPC status message unchanged: it is what the user must see.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message as _;
use strata_llb::pb;
use tonic::transport::Channel;

use crate::options::{CacheImport, ImageResolveMode};
use crate::proto::{self, frontend as fpb, fstypes, LlbBridgeClient};
use crate::transport::{self, TransportError};

pub use crate::proto::fstypes::Stat;
pub use crate::proto::Any;
pub use tonic::Code;

/// Largest request we send. BuildKit's grpc-go server uses the default 4 MiB
/// receive limit; a bigger request would be rejected by the server anyway.
pub const MAX_ENCODING_MESSAGE_SIZE: usize = 4 << 20;
/// Largest response we accept (tonic's default is 4 MiB; ReadFile of a big
/// file can exceed that).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 64 << 20;

/// Go `os.FileMode` bit for directories, as used in [`Stat::mode`].
pub const MODE_DIR: u32 = 1 << 31;
/// Go `os.FileMode` bit for symlinks, as used in [`Stat::mode`].
pub const MODE_SYMLINK: u32 = 1 << 27;

/// Errors of [`Bridge`] calls.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The stdio transport could not be set up.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A call failed with a gRPC status. `Display` is BuildKit's message,
    /// unchanged.
    #[error("{message}")]
    Rpc {
        /// The LLBBridge method, e.g. "Solve".
        method: &'static str,
        /// gRPC status code.
        code: Code,
        /// BuildKit's error message.
        message: String,
        /// Typed details (`grpc-status-details-bin`), e.g. stack traces,
        /// `errdefs.Source+json`, vertex/exit-code errors. Pass them on to
        /// [`Bridge::return_error`] so the client can render them.
        details: Vec<Any>,
    },
    /// ReadFile/StatFile on a path that does not exist in the ref.
    #[error("{message}")]
    NotFound {
        /// The requested path.
        path: String,
        /// BuildKit's error message (e.g. `open x: no such file or directory`).
        message: String,
    },
    /// A request is larger than BuildKit accepts (4 MiB); it was not sent.
    /// (tonic itself would only report "transport error".)
    #[error("the {method} request is {size} bytes, more than the {limit} bytes BuildKit accepts in one message")]
    TooLarge {
        /// The LLBBridge method.
        method: &'static str,
        /// Encoded size of the request.
        size: usize,
        /// [`MAX_ENCODING_MESSAGE_SIZE`].
        limit: usize,
    },
    /// BuildKit answered with something this client cannot use.
    #[error("unexpected {method} response from BuildKit: {what}")]
    Unexpected {
        /// The LLBBridge method.
        method: &'static str,
        /// What was wrong.
        what: String,
    },
}

impl BridgeError {
    /// The gRPC code to report this error with (via `Return`).
    pub fn code(&self) -> Code {
        match self {
            BridgeError::Rpc { code, .. } => *code,
            BridgeError::NotFound { .. } => Code::NotFound,
            BridgeError::Transport(_) => Code::Unavailable,
            BridgeError::TooLarge { .. } => Code::ResourceExhausted,
            BridgeError::Unexpected { .. } => Code::Internal,
        }
    }

    /// Typed error details received from BuildKit (empty unless `Rpc`).
    pub fn details(&self) -> &[Any] {
        match self {
            BridgeError::Rpc { details, .. } => details,
            _ => &[],
        }
    }

    /// True for [`BridgeError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, BridgeError::NotFound { .. })
    }

    fn rpc(method: &'static str, status: tonic::Status) -> Self {
        let details = if status.details().is_empty() {
            Vec::new()
        } else {
            proto::Status::decode(status.details())
                .map(|s| s.details)
                .unwrap_or_default()
        };
        BridgeError::Rpc {
            method,
            code: status.code(),
            message: status.message().to_string(),
            details,
        }
    }

    /// Classifies a ReadFile/StatFile failure: a missing path becomes
    /// `NotFound`. BuildKit reports `os.PathError`s with code Unknown and the
    /// message `<op> <requested path>: no such file or directory`; the path
    /// check keeps a failing *build* of the ref (which may mention some other
    /// missing file) from being mistaken for a missing path.
    fn file(method: &'static str, path: &str, status: tonic::Status) -> Self {
        let message = status.message();
        let missing = status.code() == Code::NotFound
            || [": no such file or directory", ": not a directory"]
                .iter()
                .any(|suffix| message.ends_with(&format!(" {path}{suffix}")));
        if missing {
            BridgeError::NotFound {
                path: path.to_string(),
                message: message.to_string(),
            }
        } else {
            BridgeError::rpc(method, status)
        }
    }
}

type Result<T, E = BridgeError> = std::result::Result<T, E>;

/// Refuses a request tonic would fail to send (or BuildKit would reject).
fn check_size(method: &'static str, msg: &impl prost::Message) -> Result<()> {
    let size = msg.encoded_len();
    if size > MAX_ENCODING_MESSAGE_SIZE {
        return Err(BridgeError::TooLarge {
            method,
            size,
            limit: MAX_ENCODING_MESSAGE_SIZE,
        });
    }
    Ok(())
}

/// Capabilities reported by `Ping`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caps {
    /// Enabled gateway API caps (`solve.base`, `readfile`, `gateway.warnings`, ...).
    pub frontend: BTreeSet<String>,
    /// Enabled LLB caps (`mergeop`, `diffop`, `file.base`, ...).
    pub llb: BTreeSet<String>,
    /// Caps that are present but disabled, with BuildKit's reason message
    /// (e.g. Docker's classic store: `mergeop` → "only enabled with containerd
    /// image store backend"). Keys of both API families share this map.
    pub disabled: BTreeMap<String, String>,
    /// Platforms of all workers, in order, without duplicates; the first
    /// worker's first platform is the native one.
    pub worker_platforms: Vec<pb::Platform>,
}

impl Caps {
    /// Is gateway API cap `id` enabled?
    pub fn has_frontend(&self, id: &str) -> bool {
        self.frontend.contains(id)
    }

    /// Is LLB cap `id` enabled?
    pub fn has_llb(&self, id: &str) -> bool {
        self.llb.contains(id)
    }
}

/// A result reference returned by `Solve`; valid for this session only. The
/// empty id is the empty (scratch) result: reading from it finds nothing (no
/// call is made), and returning it returns an empty result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RefId(pub String);

impl RefId {
    /// The id string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RefId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A warning for `Warn` (shown by buildx as "N warnings found").
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Warning {
    /// Digest of the vertex the warning belongs to (`sha256:<hex>`); may be
    /// empty.
    pub vertex_digest: String,
    /// Severity (BuildKit uses 1 for regular warnings).
    pub level: i64,
    /// One-line message.
    pub short: String,
    /// Extra detail lines.
    pub details: Vec<String>,
    /// Documentation link.
    pub url: Option<String>,
    /// Source file the ranges point into.
    pub source_info: Option<pb::SourceInfo>,
    /// Ranges in `source_info`.
    pub ranges: Vec<pb::Range>,
}

/// Typed client for BuildKit's `LLBBridge` service.
#[derive(Debug, Clone)]
pub struct Bridge {
    client: LlbBridgeClient<Channel>,
}

impl Bridge {
    /// Wraps a channel (see [`transport`]), with the message size limits set.
    pub fn new(channel: Channel) -> Self {
        let client = LlbBridgeClient::new(channel)
            .max_encoding_message_size(MAX_ENCODING_MESSAGE_SIZE)
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        Bridge { client }
    }

    /// Connects over stdin/stdout ([`transport::connect_stdio`]).
    pub async fn connect_stdio() -> Result<Self> {
        Ok(Bridge::new(transport::connect_stdio().await?))
    }

    fn client(&self) -> LlbBridgeClient<Channel> {
        self.client.clone()
    }
}

/// Awaits one request, logging at `debug` how long it took (`STRATA_LOG=strata_gateway=debug`,
/// see docs/debugging.md): where a build's time goes before and after its steps.
async fn timed<F: std::future::Future>(method: &str, detail: &str, request: F) -> F::Output {
    let start = std::time::Instant::now();
    let out = request.await;
    tracing::debug!(
        "{method} {detail}: {:.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    out
}

impl Bridge {
    /// `Ping`: the enabled caps and worker platforms.
    pub async fn ping(&self) -> Result<Caps> {
        let pong = timed("Ping", "", self.client().ping(fpb::PingRequest {}))
            .await
            .map_err(|s| BridgeError::rpc("Ping", s))?
            .into_inner();
        let mut caps = Caps::default();
        for (caps_list, enabled) in [
            (pong.frontend_api_caps, &mut caps.frontend),
            (pong.llb_caps, &mut caps.llb),
        ] {
            for cap in caps_list {
                if cap.enabled {
                    enabled.insert(cap.id);
                } else {
                    let reason = if cap.disabled_reason_msg.is_empty() {
                        cap.disabled_reason
                    } else {
                        cap.disabled_reason_msg
                    };
                    caps.disabled.insert(cap.id, reason);
                }
            }
        }
        for worker in pong.workers {
            for p in worker.platforms {
                if !caps.worker_platforms.contains(&p) {
                    caps.worker_platforms.push(p);
                }
            }
        }
        Ok(caps)
    }

    /// `ResolveImageConfig` for a registry image. `platform: None` lets
    /// BuildKit use its default platform. `log_name` is the progress vertex
    /// name (e.g. `[internal] load metadata for docker.io/library/alpine:3.19`).
    /// Returns the manifest digest (`sha256:<hex>`) and the image config JSON.
    pub async fn resolve_image_config(
        &self,
        reference: &str,
        platform: Option<pb::Platform>,
        resolve_mode: ImageResolveMode,
        log_name: &str,
    ) -> Result<(String, Vec<u8>)> {
        let request = fpb::ResolveImageConfigRequest {
            r#ref: reference.to_string(),
            platform,
            resolve_mode: resolve_mode.as_str().to_string(),
            log_name: log_name.to_string(),
            ..Default::default()
        };
        let resp = timed(
            "ResolveImageConfig",
            reference,
            self.client().resolve_image_config(request),
        )
        .await
        .map_err(|s| BridgeError::rpc("ResolveImageConfig", s))?
        .into_inner();
        Ok((resp.digest, resp.config))
    }

    /// `Solve` an LLB definition. Always sets `allowResultReturn` and
    /// `allowResultArrayRef`. `evaluate: true` builds it now (errors surface
    /// here instead of at ReadFile/export time).
    pub async fn solve(
        &self,
        definition: pb::Definition,
        cache_imports: Vec<CacheImport>,
        evaluate: bool,
    ) -> Result<RefId> {
        let req = fpb::SolveRequest {
            definition: Some(definition),
            allow_result_return: true,
            allow_result_array_ref: true,
            cache_imports: cache_imports
                .into_iter()
                .map(|c| fpb::CacheOptionsEntry {
                    r#type: c.kind,
                    attrs: c.attrs.into_iter().collect(),
                })
                .collect(),
            evaluate,
            ..Default::default()
        };
        check_size("Solve", &req)?;
        let ops = req.definition.as_ref().map_or(0, |d| d.def.len());
        let resp = timed("Solve", &format!("({ops} ops)"), self.client().solve(req))
            .await
            .map_err(|s| BridgeError::rpc("Solve", s))?
            .into_inner();
        use fpb::result::Result as R;
        match resp.result.and_then(|r| r.result) {
            Some(R::Ref(r)) => Ok(RefId(r.id)),
            // Only sent when allowResultArrayRef is unset; accept anyway.
            Some(R::RefDeprecated(id)) => Ok(RefId(id)),
            None if !resp.r#ref.is_empty() => Ok(RefId(resp.r#ref)),
            None => Ok(RefId::default()),
            Some(R::Refs(_)) | Some(R::RefsDeprecated(_)) => Err(BridgeError::Unexpected {
                method: "Solve",
                what: "a map of refs for a single-definition solve".to_string(),
            }),
        }
    }

    /// `ReadFile`: the whole file, or `range = Some((offset, length))`.
    /// A missing path gives [`BridgeError::NotFound`].
    pub async fn read_file(
        &self,
        r: &RefId,
        path: &str,
        range: Option<(i64, i64)>,
    ) -> Result<Vec<u8>> {
        if r.0.is_empty() {
            return Err(BridgeError::NotFound {
                path: path.to_string(),
                message: format!("open {path}: no such file or directory (empty result)"),
            });
        }
        let request = fpb::ReadFileRequest {
            r#ref: r.0.clone(),
            file_path: path.to_string(),
            range: range.map(|(offset, length)| fpb::FileRange { offset, length }),
        };
        let resp = timed("ReadFile", path, self.client().read_file(request))
            .await
            .map_err(|s| BridgeError::file("ReadFile", path, s))?
            .into_inner();
        Ok(resp.data)
    }

    /// `StatFile`; `None` when the path does not exist.
    pub async fn stat_file(&self, r: &RefId, path: &str) -> Result<Option<Stat>> {
        if r.0.is_empty() {
            return Ok(None);
        }
        let request = fpb::StatFileRequest {
            r#ref: r.0.clone(),
            path: path.to_string(),
        };
        let resp = timed("StatFile", path, self.client().stat_file(request)).await;
        match resp {
            Ok(resp) => match resp.into_inner().stat {
                Some(stat) => Ok(Some(stat)),
                None => Err(BridgeError::Unexpected {
                    method: "StatFile",
                    what: "no stat".to_string(),
                }),
            },
            Err(status) => match BridgeError::file("StatFile", path, status) {
                BridgeError::NotFound { .. } => Ok(None),
                err => Err(err),
            },
        }
    }

    /// `ReadDir`: the entries directly under `path` (not recursive), filtered
    /// by an optional include pattern (empty = all).
    pub async fn read_dir(
        &self,
        r: &RefId,
        path: &str,
        include_pattern: &str,
    ) -> Result<Vec<Stat>> {
        if r.0.is_empty() {
            return Ok(Vec::new());
        }
        let request = fpb::ReadDirRequest {
            r#ref: r.0.clone(),
            dir_path: path.to_string(),
            include_pattern: include_pattern.to_string(),
        };
        let resp = timed("ReadDir", path, self.client().read_dir(request))
            .await
            .map_err(|s| BridgeError::file("ReadDir", path, s))?
            .into_inner();
        Ok(resp.entries)
    }

    /// `Evaluate`: force the ref to be built.
    pub async fn evaluate(&self, r: &RefId) -> Result<()> {
        self.client()
            .evaluate(fpb::EvaluateRequest { r#ref: r.0.clone() })
            .await
            .map_err(|s| BridgeError::rpc("Evaluate", s))?;
        Ok(())
    }

    /// `Inputs`: definitions passed by a forwarding frontend (e.g. the
    /// Dockerfile frontend with `# syntax=`), keyed by input name.
    pub async fn inputs(&self) -> Result<BTreeMap<String, pb::Definition>> {
        let resp = self
            .client()
            .inputs(fpb::InputsRequest {})
            .await
            .map_err(|s| BridgeError::rpc("Inputs", s))?
            .into_inner();
        Ok(resp.definitions)
    }

    /// `Return` a single-ref result with its metadata (e.g.
    /// `containerimage.config`, `refs.platforms`). Only one Return is allowed
    /// per session; exit(0) afterwards.
    pub async fn return_result(
        &self,
        ref_id: &RefId,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        let result = fpb::Result {
            result: Some(fpb::result::Result::Ref(fpb::Ref {
                id: ref_id.0.clone(),
                def: None,
            })),
            metadata,
            ..Default::default()
        };
        self.send_return(fpb::ReturnRequest {
            result: Some(result),
            error: None,
        })
        .await
    }

    /// `Return` a multi-platform result: `refs` keyed by platform id
    /// (`linux/amd64`), plus metadata (`containerimage.config/<id>`,
    /// `refs.platforms`).
    pub async fn return_refs(
        &self,
        refs: BTreeMap<String, RefId>,
        metadata: BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        let refs = refs
            .into_iter()
            .map(|(k, r)| (k, fpb::Ref { id: r.0, def: None }))
            .collect();
        let result = fpb::Result {
            result: Some(fpb::result::Result::Refs(fpb::RefMap { refs })),
            metadata,
            ..Default::default()
        };
        self.send_return(fpb::ReturnRequest {
            result: Some(result),
            error: None,
        })
        .await
    }

    /// `Return` an error: the build fails with `message` (shown to the user as
    /// is). `code` is a [`Code`] or its `i32` value; `Ok` (and unknown
    /// values, which tonic maps to `Unknown`) are sent as `Unknown`.
    pub async fn return_error(
        &self,
        code: impl Into<Code>,
        message: &str,
        details: Vec<Any>,
    ) -> Result<()> {
        let code = match code.into() {
            Code::Ok => Code::Unknown,
            c => c,
        };
        let error = proto::Status {
            code: code as i32,
            message: message.to_string(),
            details,
        };
        self.send_return(fpb::ReturnRequest {
            result: None,
            error: Some(error),
        })
        .await
    }

    async fn send_return(&self, req: fpb::ReturnRequest) -> Result<()> {
        check_size("Return", &req)?;
        timed("Return", "", self.client().r#return(req))
            .await
            .map_err(|s| BridgeError::rpc("Return", s))?;
        Ok(())
    }

    /// `Warn` (gateway cap `gateway.warnings`).
    pub async fn warn(&self, w: Warning) -> Result<()> {
        let req = fpb::WarnRequest {
            digest: w.vertex_digest,
            level: w.level,
            short: w.short.into_bytes(),
            detail: w.details.into_iter().map(String::into_bytes).collect(),
            url: w.url.unwrap_or_default(),
            info: w.source_info,
            ranges: w.ranges,
        };
        check_size("Warn", &req)?;
        timed("Warn", "", self.client().warn(req))
            .await
            .map_err(|s| BridgeError::rpc("Warn", s))?;
        Ok(())
    }
}

/// Is this `Stat` a directory (Go `os.ModeDir`)?
pub fn is_dir(stat: &fstypes::Stat) -> bool {
    stat.mode & MODE_DIR != 0
}

/// Is this `Stat` a symlink (Go `os.ModeSymlink`)?
pub fn is_symlink(stat: &fstypes::Stat) -> bool {
    stat.mode & MODE_SYMLINK != 0
}
