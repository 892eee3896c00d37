//! End-to-end check of the transport and the bridge: the client talks over a
//! pair of real pipes (as with BuildKit's stdin/stdout) to a small in-process
//! HTTP/2 peer that answers LLBBridge calls the way BuildKit does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use strata_gateway::bridge::{Any, Bridge, BridgeError, Code, RefId, Warning};
use strata_gateway::options::{CacheImport, ImageResolveMode};
use strata_gateway::proto::{apicaps, frontend as fpb, fstypes, worker, Status};
use strata_gateway::transport::{self, StdioStream};
use strata_llb::pb;
use tokio::net::unix::pipe;

const SVC: &str = "/moby.buildkit.v1.frontend.LLBBridge/";

type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

enum Reply {
    Ok(Vec<u8>),
    Err {
        code: i32,
        message: String,
        details: Vec<Any>,
    },
}

fn platform(os: &str, arch: &str) -> pb::Platform {
    pb::Platform {
        os: os.into(),
        architecture: arch.into(),
        ..Default::default()
    }
}

fn cap(id: &str, enabled: bool, msg: &str) -> apicaps::ApiCap {
    apicaps::ApiCap {
        id: id.into(),
        enabled,
        disabled_reason_msg: msg.into(),
        ..Default::default()
    }
}

/// What the fake BuildKit answers.
fn answer(method: &str, body: &[u8]) -> Reply {
    match method {
        "Ping" => Reply::Ok(
            fpb::PongResponse {
                frontend_api_caps: vec![
                    cap("solve.base", true, ""),
                    cap("gateway.warnings", true, ""),
                ],
                llb_caps: vec![
                    cap("file.base", true, ""),
                    cap(
                        "mergeop",
                        false,
                        "only enabled with containerd image store backend",
                    ),
                ],
                workers: vec![
                    worker::WorkerRecord {
                        id: "w0".into(),
                        platforms: vec![platform("linux", "amd64"), platform("linux", "386")],
                        ..Default::default()
                    },
                    worker::WorkerRecord {
                        id: "w1".into(),
                        platforms: vec![platform("linux", "amd64")],
                        ..Default::default()
                    },
                ],
            }
            .encode_to_vec(),
        ),
        "ResolveImageConfig" => {
            let req = fpb::ResolveImageConfigRequest::decode(body).unwrap();
            assert_eq!(req.resolve_mode, "local");
            Reply::Ok(
                fpb::ResolveImageConfigResponse {
                    digest: "sha256:abc".into(),
                    config: format!("{{\"ref\":\"{}\"}}", req.r#ref).into_bytes(),
                    r#ref: req.r#ref,
                }
                .encode_to_vec(),
            )
        }
        "Solve" => {
            let req = fpb::SolveRequest::decode(body).unwrap();
            assert!(req.allow_result_return && req.allow_result_array_ref);
            let id = format!("ref-{}", req.definition.unwrap().def.len());
            Reply::Ok(
                fpb::SolveResponse {
                    result: Some(fpb::Result {
                        result: Some(fpb::result::Result::Ref(fpb::Ref { id, def: None })),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
                .encode_to_vec(),
            )
        }
        "ReadFile" => {
            let req = fpb::ReadFileRequest::decode(body).unwrap();
            match req.file_path.as_str() {
                // Bigger than tonic's default 4 MiB decoding limit.
                "big" => Reply::Ok(fpb::ReadFileResponse { data: vec![7; 5 << 20] }.encode_to_vec()),
                "missing.txt" => Reply::Err {
                    code: Code::Unknown as i32,
                    message: "open missing.txt: no such file or directory".into(),
                    details: vec![],
                },
                // The ref's build failed on some other missing file: not NotFound.
                "spec.toml" => Reply::Err {
                    code: Code::Unknown as i32,
                    message: "process \"/bin/sh -c cat /x\" did not complete successfully: exit code: 1\n\
                              open /x: no such file or directory"
                        .into(),
                    details: vec![Any {
                        type_url: "github.com/moby/buildkit/errdefs.Source+json".into(),
                        value: b"{}".to_vec(),
                    }],
                },
                path => Reply::Ok(fpb::ReadFileResponse { data: path.as_bytes().to_vec() }.encode_to_vec()),
            }
        }
        "StatFile" => {
            let req = fpb::StatFileRequest::decode(body).unwrap();
            if req.path == "nope" {
                Reply::Err {
                    code: Code::Unknown as i32,
                    message: "lstat nope: no such file or directory".into(),
                    details: vec![],
                }
            } else {
                Reply::Ok(
                    fpb::StatFileResponse {
                        stat: Some(fstypes::Stat {
                            path: req.path,
                            mode: (1 << 31) | 0o755,
                            ..Default::default()
                        }),
                    }
                    .encode_to_vec(),
                )
            }
        }
        "Return" | "Warn" => Reply::Ok(Vec::new()),
        other => Reply::Err {
            code: Code::Unimplemented as i32,
            message: format!("unknown method {other}"),
            details: vec![],
        },
    }
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

async fn handle(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    seen: Seen,
) {
    assert_eq!(req.uri().authority().map(|a| a.as_str()), Some("localhost"));
    assert_eq!(req.headers()["content-type"], "application/grpc");
    let method = req.uri().path().strip_prefix(SVC).unwrap().to_string();
    let mut body = req.into_body();
    let mut buf = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
    assert_eq!(buf[0], 0, "uncompressed");
    let len = u32::from_be_bytes(buf[1..5].try_into().unwrap()) as usize;
    let msg = buf[5..5 + len].to_vec();
    let reply = answer(&method, &msg);
    seen.lock().unwrap().push((method, msg));
    match reply {
        Reply::Ok(data) => {
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut send = respond.send_response(head, false).unwrap();
            let mut frame = vec![0];
            frame.extend_from_slice(&(data.len() as u32).to_be_bytes());
            frame.extend_from_slice(&data);
            send.send_data(frame.into(), false).unwrap();
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            send.send_trailers(trailers).unwrap();
        }
        Reply::Err {
            code,
            message,
            details,
        } => {
            let status = Status {
                code,
                message: message.clone(),
                details,
            };
            let encoded: String = message
                .bytes()
                .map(|b| {
                    if (0x20..0x7f).contains(&b) && b != b'%' {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let head = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .header("grpc-status", code.to_string())
                .header("grpc-message", encoded)
                .header("grpc-status-details-bin", b64(&status.encode_to_vec()))
                .body(())
                .unwrap();
            respond.send_response(head, true).unwrap();
        }
    }
}

/// Starts the fake BuildKit; returns the connected bridge, the request log
/// and the server task.
async fn start() -> (Bridge, Seen, tokio::task::JoinHandle<()>) {
    let (to_server, server_rx) = pipe::pipe().unwrap();
    let (server_tx, from_server) = pipe::pipe().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let server = tokio::spawn(async move {
        let io = StdioStream::from_pipes(server_rx, server_tx);
        let mut conn = h2::server::handshake(io).await.unwrap();
        while let Some(next) = conn.accept().await {
            let Ok((req, respond)) = next else { break };
            tokio::spawn(handle(req, respond, log.clone()));
        }
    });
    let channel = transport::connect(StdioStream::from_pipes(from_server, to_server))
        .await
        .unwrap();
    (Bridge::new(channel), seen, server)
}

fn definition(ops: usize, payload: usize) -> pb::Definition {
    pb::Definition {
        def: (0..ops).map(|i| vec![i as u8; payload]).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn bridge_calls_over_pipes() {
    let (bridge, seen, _server) = start().await;

    let caps = bridge.ping().await.unwrap();
    assert!(caps.has_frontend("solve.base") && caps.has_frontend("gateway.warnings"));
    assert!(caps.has_llb("file.base"));
    assert!(!caps.has_llb("mergeop"));
    assert_eq!(
        caps.disabled["mergeop"],
        "only enabled with containerd image store backend"
    );
    assert_eq!(
        caps.worker_platforms,
        vec![platform("linux", "amd64"), platform("linux", "386")]
    );

    let (digest, config) = bridge
        .resolve_image_config(
            "docker.io/library/alpine:3.19",
            Some(platform("linux", "arm64")),
            ImageResolveMode::Local,
            "load",
        )
        .await
        .unwrap();
    assert_eq!(digest, "sha256:abc");
    assert_eq!(config, br#"{"ref":"docker.io/library/alpine:3.19"}"#);

    let cache = CacheImport {
        kind: "registry".into(),
        attrs: BTreeMap::from([("ref".into(), "r/c".into())]),
    };
    let r = bridge
        .solve(definition(3, 8), vec![cache], true)
        .await
        .unwrap();
    assert_eq!(r, RefId("ref-3".into()));

    // > 4 MiB response: the decoding limit is raised.
    assert_eq!(
        bridge.read_file(&r, "big", None).await.unwrap().len(),
        5 << 20
    );
    assert_eq!(
        bridge.read_file(&r, "a/b", Some((1, 2))).await.unwrap(),
        b"a/b"
    );

    let err = bridge.read_file(&r, "missing.txt", None).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "open missing.txt: no such file or directory"
    );

    // A failing build is reported unchanged (message, code, details).
    let err = bridge.read_file(&r, "spec.toml", None).await.unwrap_err();
    assert!(!err.is_not_found());
    assert_eq!(err.code(), Code::Unknown);
    assert!(err
        .to_string()
        .starts_with("process \"/bin/sh -c cat /x\" did not complete successfully"));
    assert!(err.to_string().contains("exit code: 1\nopen /x"), "{err}");
    assert_eq!(
        err.details()[0].type_url,
        "github.com/moby/buildkit/errdefs.Source+json"
    );

    assert!(bridge.stat_file(&r, "nope").await.unwrap().is_none());
    let st = bridge.stat_file(&r, "dir").await.unwrap().unwrap();
    assert!(strata_gateway::bridge::is_dir(&st));
    // The empty ref is the empty result: nothing is asked.
    assert!(bridge
        .stat_file(&RefId::default(), "x")
        .await
        .unwrap()
        .is_none());

    bridge
        .warn(Warning {
            vertex_digest: "sha256:v".into(),
            level: 1,
            short: "careful".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    bridge
        .return_error(
            3, // i32 codes work too
            "strata.toml:3: unknown key `foo`",
            vec![],
        )
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    let solve = seen.iter().find(|(m, _)| m == "Solve").unwrap();
    let solve = fpb::SolveRequest::decode(solve.1.as_slice()).unwrap();
    assert!(solve.evaluate);
    assert_eq!(solve.cache_imports[0].r#type, "registry");
    assert_eq!(solve.cache_imports[0].attrs["ref"], "r/c");
    let ret = seen.iter().find(|(m, _)| m == "Return").unwrap();
    let ret = fpb::ReturnRequest::decode(ret.1.as_slice()).unwrap();
    assert!(ret.result.is_none());
    let e = ret.error.unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            Code::InvalidArgument as i32,
            "strata.toml:3: unknown key `foo`"
        )
    );
    let warn = seen.iter().find(|(m, _)| m == "Warn").unwrap();
    let warn = fpb::WarnRequest::decode(warn.1.as_slice()).unwrap();
    assert_eq!(
        (warn.digest.as_str(), warn.short.as_slice()),
        ("sha256:v", b"careful".as_slice())
    );
}

#[tokio::test]
async fn return_result_and_size_limit() {
    let (bridge, seen, _server) = start().await;

    // Over BuildKit's 4 MiB receive limit: refused locally, connection intact.
    let err = bridge
        .solve(definition(5, 1 << 20), vec![], false)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BridgeError::TooLarge {
                method: "Solve",
                limit: 4194304,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        bridge
            .solve(definition(2, 10), vec![], false)
            .await
            .unwrap()
            .as_str(),
        "ref-2"
    );

    let meta = BTreeMap::from([("containerimage.config".to_string(), b"{}".to_vec())]);
    bridge
        .return_result(&RefId("ref-2".into()), meta)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|(m, _)| m == "Solve").count(), 1);
    let ret = fpb::ReturnRequest::decode(seen.last().unwrap().1.as_slice()).unwrap();
    let result = ret.result.unwrap();
    assert_eq!(result.metadata["containerimage.config"], b"{}");
    match result.result {
        Some(fpb::result::Result::Ref(r)) => assert_eq!(r.id, "ref-2"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn no_reconnect_after_the_peer_is_gone() {
    let (bridge, _seen, server) = start().await;
    bridge.ping().await.unwrap();
    server.abort();
    let _ = server.await;
    // The stream cannot be redialled: calls fail quickly instead of hanging.
    for _ in 0..2 {
        let res = tokio::time::timeout(Duration::from_secs(10), bridge.ping()).await;
        assert!(matches!(res, Ok(Err(BridgeError::Rpc { .. }))), "{res:?}");
    }
}
