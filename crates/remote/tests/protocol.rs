//! The server against peers that misbehave: malformed, oversized or out-of-order messages get a
//! clear gRPC status, and the server keeps serving; and against pipelining peers, which send many
//! items before reading an answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use remotemedia_core::placement::MachineCapabilities;
use remotemedia_core::value::Value;
use remotemedia_remote::proto::node_request::Kind as RequestKind;
use remotemedia_remote::proto::node_response::Kind as ResponseKind;
use remotemedia_remote::proto::remote_nodes_client::RemoteNodesClient;
use remotemedia_remote::proto::{self, NodeRequest, NodeResponse};
use remotemedia_remote::{ServeConfig, Token, convert, serve_until};
use remotemedia_runtime::engines::rustpython::InterpreterSharing;
use remotemedia_runtime::pipeline::{Config, DefaultEngines};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

const TOKEN: &str = "test-token";
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// A server on an ephemeral loopback port, stopped when dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        Server::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut ServeConfig)) -> Server {
        let machine = MachineCapabilities::from_json(
            r#"{"name": "test-host", "cpu": {"cores": 2, "arch": "x86_64"}, "memory": {"total_gb": 4}}"#,
            "test-host.json",
        )
        .unwrap();
        let engines = DefaultEngines::new(Config {
            interpreters: InterpreterSharing::Shared,
            ..Config::default()
        });
        let mut config =
            ServeConfig::new("127.0.0.1:0".parse().unwrap(), machine, Arc::new(engines));
        config.token = Some(Token::new(TOKEN, "test").unwrap());
        config.max_message_bytes = MAX_MESSAGE_BYTES;
        adjust(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (bound, address) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            serve_until(config, |addr| bound.send(addr).unwrap(), async {
                let _ = stopped.await;
            })
            .unwrap();
        });
        let addr = address
            .recv_timeout(Duration::from_secs(60))
            .expect("the server starts");
        Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().unwrap().send(());
        let _ = self.thread.take().unwrap().join();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(addr: SocketAddr) -> RemoteNodesClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    RemoteNodesClient::new(channel).max_encoding_message_size(4 * MAX_MESSAGE_BYTES)
}

fn authorized<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn open(node_type: &str) -> NodeRequest {
    NodeRequest {
        kind: Some(RequestKind::Open(proto::OpenNode {
            node_id: "n".into(),
            node_type: node_type.into(),
            ..Default::default()
        })),
    }
}

fn item(value: proto::Value) -> NodeRequest {
    NodeRequest {
        kind: Some(RequestKind::Item(value)),
    }
}

/// Sends `requests` on one RunNode stream (kept open) and collects the responses until the
/// stream ends: the answers, then the final status (`Ok` when it ended normally).
async fn exchange(
    client: &mut RemoteNodesClient<Channel>,
    requests: Vec<NodeRequest>,
) -> (Vec<ResponseKind>, Result<(), Status>) {
    let (sender, receiver) = tokio::sync::mpsc::channel(requests.len() + 1);
    for request in requests {
        sender.send(request).await.unwrap();
    }
    let mut stream = match client
        .run_node(authorized(ReceiverStream::new(receiver), TOKEN))
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return (Vec::new(), Err(status)),
    };
    let mut answers = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .expect("the server answers");
        match next {
            Ok(Some(NodeResponse { kind: Some(kind) })) => {
                let closed = matches!(kind, ResponseKind::Closed(_));
                answers.push(kind);
                if closed {
                    return (answers, Ok(()));
                }
            }
            Ok(Some(NodeResponse { kind: None })) => panic!("a response with no kind"),
            Ok(None) => return (answers, Ok(())),
            Err(status) => return (answers, Err(status)),
        }
    }
}

fn names(answers: &[ResponseKind]) -> Vec<&'static str> {
    answers.iter().map(ResponseKind::name).collect()
}

fn expect_status(result: Result<(), Status>, code: Code, says: &str) {
    let status = result.expect_err("the stream ends with an error status");
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(says),
        "`{}` should say `{says}`",
        status.message()
    );
}

#[test]
fn a_node_stream_follows_the_lifecycle() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let three = convert::encode_value(&Value::Int(3));
        let (answers, end) = exchange(
            &mut client,
            vec![
                open("PassThroughNode"),
                item(three.clone()),
                NodeRequest {
                    kind: Some(RequestKind::Flush(proto::Flush {})),
                },
                NodeRequest {
                    kind: Some(RequestKind::Close(proto::Close {})),
                },
            ],
        )
        .await;
        end.unwrap();
        assert_eq!(
            names(&answers),
            [
                "created",
                "initialized",
                "output",
                "item_done",
                "flushed",
                "closed"
            ]
        );
        assert_eq!(answers[2], ResponseKind::Output(three));
    });
}

#[test]
fn malformed_requests_get_invalid_argument_and_the_server_keeps_serving() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;

        let (_, end) = exchange(&mut client, vec![item(convert::encode_value(&Value::Null))]).await;
        expect_status(
            end,
            Code::InvalidArgument,
            "first message of a RunNode stream must be `open`",
        );

        let (_, end) = exchange(&mut client, vec![NodeRequest { kind: None }]).await;
        expect_status(end, Code::InvalidArgument, "no kind");

        let (answers, end) = exchange(
            &mut client,
            vec![open("PassThroughNode"), item(proto::Value { kind: None })],
        )
        .await;
        assert_eq!(names(&answers), ["created", "initialized"]);
        expect_status(
            end,
            Code::InvalidArgument,
            "item #1: a value with no kind set",
        );

        let bad_array = proto::Value {
            kind: Some(proto::value::Kind::Array(proto::Array {
                dtype: proto::Dtype::F64.into(),
                data: vec![1, 2, 3],
            })),
        };
        let (_, end) = exchange(&mut client, vec![open("PassThroughNode"), item(bad_array)]).await;
        expect_status(
            end,
            Code::InvalidArgument,
            "3 bytes is not a whole number of f64",
        );

        let (_, end) = exchange(
            &mut client,
            vec![open("PassThroughNode"), open("PassThroughNode")],
        )
        .await;
        expect_status(end, Code::InvalidArgument, "`open` may only come first");

        let huge = convert::encode_value(&Value::Bytes(vec![7u8; 2 * MAX_MESSAGE_BYTES].into()));
        let (_, end) = exchange(&mut client, vec![open("PassThroughNode"), item(huge)]).await;
        // RESOURCE_EXHAUSTED, as docs/remote.md says: not the decoder's OUT_OF_RANGE, not the
        // INVALID_ARGUMENT of a malformed message.
        expect_status(end, Code::ResourceExhausted, "request too large");

        // Still serving.
        let described = client
            .describe(authorized(proto::DescribeRequest {}, TOKEN))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(described.protocol_version, 1);
        assert_eq!(
            described.machine.unwrap().name.as_deref(),
            Some("test-host")
        );
    });
}

#[test]
fn node_failures_come_back_in_band_with_their_phase() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let (answers, end) = exchange(
            &mut client,
            vec![
                open("NoSuchNode"),
                NodeRequest {
                    kind: Some(RequestKind::Close(proto::Close {})),
                },
            ],
        )
        .await;
        end.unwrap();
        let ResponseKind::Failure(failure) = &answers[0] else {
            panic!("expected a failure, got {:?}", names(&answers))
        };
        assert_eq!(failure.phase, proto::Phase::Create as i32);
        assert!(
            failure.message.contains("unknown node type 'NoSuchNode'"),
            "{failure:?}"
        );
        assert_eq!(names(&answers), ["failure", "closed"]);
    });
}

#[test]
fn a_node_this_host_cannot_run_is_refused() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let mut request = open("PassThroughNode");
        if let Some(RequestKind::Open(open)) = &mut request.kind {
            open.requirements = Some(proto::Requirements {
                gpu: Some(proto::GpuRequirement {
                    kind: "cuda".into(),
                    min_memory_gb: None,
                    required: true,
                }),
                ..Default::default()
            });
        }
        let (_, end) = exchange(&mut client, vec![request]).await;
        expect_status(end, Code::FailedPrecondition, "needs gpu cuda");
    });
}

#[test]
fn calls_without_the_token_are_unauthenticated() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let missing = client
            .describe(Request::new(proto::DescribeRequest {}))
            .await
            .unwrap_err();
        assert_eq!(missing.code(), Code::Unauthenticated);
        let wrong = client
            .describe(authorized(proto::DescribeRequest {}, "test-tokem"))
            .await
            .unwrap_err();
        assert_eq!(wrong.code(), Code::Unauthenticated);
        let (_, end) = {
            let (sender, receiver) = tokio::sync::mpsc::channel(1);
            sender.send(open("PassThroughNode")).await.unwrap();
            let result = client
                .run_node(authorized(ReceiverStream::new(receiver), "nope"))
                .await;
            ((), result.map(|_| ()))
        };
        expect_status(end, Code::Unauthenticated, "missing or wrong token");
    });
}

#[test]
fn streams_beyond_the_limit_are_refused_until_one_closes() {
    let server = Server::start_with(|config| config.max_nodes = 1);
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        // The first stream stays open: it holds the only place.
        let (held, receiver) = tokio::sync::mpsc::channel(4);
        held.send(open("PassThroughNode")).await.unwrap();
        let mut first = client
            .run_node(authorized(ReceiverStream::new(receiver), TOKEN))
            .await
            .unwrap()
            .into_inner();
        assert!(matches!(
            first.message().await.unwrap().unwrap().kind,
            Some(ResponseKind::Created(_))
        ));

        let (_, end) = exchange(&mut client, vec![open("PassThroughNode")]).await;
        expect_status(
            end,
            Code::ResourceExhausted,
            "already runs 1 nodes, its limit",
        );

        held.send(NodeRequest {
            kind: Some(RequestKind::Close(proto::Close {})),
        })
        .await
        .unwrap();
        while let Some(response) = first.message().await.unwrap() {
            if matches!(response.kind, Some(ResponseKind::Closed(_))) {
                break;
            }
        }
        drop(held);
        // The place is free again once the stream has ended.
        let mut answers = Vec::new();
        for _ in 0..100 {
            let (got, end) = exchange(
                &mut client,
                vec![
                    open("PassThroughNode"),
                    NodeRequest {
                        kind: Some(RequestKind::Close(proto::Close {})),
                    },
                ],
            )
            .await;
            if end.is_ok() {
                answers = got;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(names(&answers), ["created", "initialized", "closed"]);
    });
}

#[test]
fn clients_retry_a_host_that_is_not_up_yet() {
    use remotemedia_core::hosts::HostConnector as _;
    use remotemedia_remote::{ClientOptions, RemoteHosts};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        Server::start_with(|config| config.listen = SocketAddr::from(([127, 0, 0, 1], port)))
    });
    let hosts = RemoteHosts::new(ClientOptions {
        token: Some(Token::new(TOKEN, "test").unwrap()),
        plan_attempts: 8,
        first_backoff: Duration::from_millis(100),
        ..ClientOptions::default()
    })
    .unwrap();
    let machine = hosts.describe(&format!("127.0.0.1:{port}"));
    let _server = late.join().unwrap();
    assert_eq!(machine.unwrap().name.as_deref(), Some("test-host"));
}

fn open_with_window(node_type: &str, params: Vec<proto::Param>, window: u32) -> NodeRequest {
    NodeRequest {
        kind: Some(RequestKind::Open(proto::OpenNode {
            node_id: "n".into(),
            node_type: node_type.into(),
            params,
            window,
            ..Default::default()
        })),
    }
}

fn flush_and_close() -> [NodeRequest; 2] {
    [
        NodeRequest {
            kind: Some(RequestKind::Flush(proto::Flush {})),
        },
        NodeRequest {
            kind: Some(RequestKind::Close(proto::Close {})),
        },
    ]
}

fn granted_window(answers: &[ResponseKind]) -> u32 {
    match &answers[0] {
        ResponseKind::Created(created) => created.window,
        other => panic!("expected `created`, got `{}`", other.name()),
    }
}

#[test]
fn items_sent_ahead_of_their_answers_are_answered_in_order() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        // Every item is on its way before the first answer is read.
        let count = 300;
        let mut requests = vec![open_with_window("PassThroughNode", Vec::new(), 64)];
        requests.extend((0..count).map(|n| item(convert::encode_value(&Value::Int(n)))));
        requests.extend(flush_and_close());
        let (answers, end) = exchange(&mut client, requests).await;
        end.unwrap();
        assert_eq!(granted_window(&answers), 64);
        let mut expected = vec!["created", "initialized"];
        for _ in 0..count {
            expected.extend(["output", "item_done"]);
        }
        expected.extend(["flushed", "closed"]);
        assert_eq!(names(&answers), expected);
        let outputs: Vec<Value> = answers
            .into_iter()
            .filter_map(|answer| match answer {
                ResponseKind::Output(value) => {
                    Some(convert::decode_value(value, "output").unwrap())
                }
                _ => None,
            })
            .collect();
        assert_eq!(outputs, (0..count).map(Value::Int).collect::<Vec<_>>());
    });
}

#[test]
fn the_window_is_one_for_clients_before_pipelining_and_capped_by_the_server() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        for (asked, granted) in [(0, 1), (1, 1), (1_000_000, 256)] {
            let mut requests = vec![open_with_window("PassThroughNode", Vec::new(), asked)];
            requests.extend(flush_and_close());
            let (answers, end) = exchange(&mut client, requests).await;
            end.unwrap();
            assert_eq!(granted_window(&answers), granted, "asked for {asked}");
        }
    });
}

#[test]
fn items_already_sent_after_a_failing_item_are_not_processed() {
    let server = Server::start();
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let params = vec![
            proto::Param {
                name: "operation".into(),
                value: Some(convert::encode_value(&Value::Str("add".into()))),
            },
            proto::Param {
                name: "operand".into(),
                value: Some(convert::encode_value(&Value::Int(5))),
            },
        ];
        let mut requests = vec![open_with_window("CalculatorNode", params, 16)];
        for value in [
            Value::Int(1),
            Value::Str("not a number".into()),
            Value::Int(3),
            Value::Int(4),
        ] {
            requests.push(item(convert::encode_value(&value)));
        }
        requests.push(NodeRequest {
            kind: Some(RequestKind::Close(proto::Close {})),
        });
        let (answers, end) = exchange(&mut client, requests).await;
        end.unwrap();
        assert_eq!(
            names(&answers),
            [
                "created",
                "initialized",
                "output",
                "item_done",
                "failure",
                "closed"
            ]
        );
        assert_eq!(
            answers[2],
            ResponseKind::Output(convert::encode_value(&Value::Int(6)))
        );
        match &answers[4] {
            ResponseKind::Failure(failure) => {
                assert_eq!(failure.phase(), proto::Phase::Process);
                assert!(failure.message.contains("str"), "{}", failure.message);
            }
            other => panic!("expected a failure, got `{}`", other.name()),
        }
    });
}

/// The engine a host creates `node_type` on, with `params`.
fn created_engine(server: &Server, node_type: &str, params: &[(&str, Value)]) -> String {
    let mut request = open(node_type);
    if let Some(RequestKind::Open(open)) = &mut request.kind {
        open.params = params
            .iter()
            .map(|(name, value)| proto::Param {
                name: (*name).to_owned(),
                value: Some(convert::encode_value(value)),
            })
            .collect();
    }
    runtime().block_on(async {
        let mut client = connect(server.addr).await;
        let close = NodeRequest {
            kind: Some(RequestKind::Close(proto::Close {})),
        };
        let (answers, _) = exchange(&mut client, vec![request, close]).await;
        match answers.first() {
            Some(ResponseKind::Created(created)) => created.engine.clone(),
            other => panic!("{node_type} was not created: {other:?}"),
        }
    })
}

#[test]
fn a_host_runs_natively_the_nodes_its_native_engine_implements_as_a_local_run_does() {
    let server = Server::start();
    assert_eq!(
        created_engine(&server, "GainNode", &[("gain_db", Value::Float(-6.0))]),
        "native"
    );
    // Params the native engine does not take: the Python reference node, as locally.
    assert_eq!(
        created_engine(&server, "GainNode", &[("name", Value::Str("gain".into()))]),
        "rustpython"
    );
    assert_eq!(
        created_engine(&server, "PassThroughNode", &[]),
        "rustpython"
    );
}
