//! The interface document (`docs/mqtt-api.yaml`, AsyncAPI 3) and its JSON Schemas agree with
//! each other and with what the box really sends. The live messages are checked in
//! `closed_loop.rs`, `spine.rs`; here the document itself and the box's own types.

mod common;

use common::*;
use serde_json::Value;

fn asyncapi() -> Value {
    let text = std::fs::read_to_string(repo().join("docs/mqtt-api.yaml")).expect("mqtt-api.yaml");
    serde_yaml::from_str(&text).expect("mqtt-api.yaml is YAML")
}

#[test]
fn the_asyncapi_document_names_every_channel_and_its_schemas_exist() {
    let doc = asyncapi();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let channels: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    for address in [
        "lookout/v1/{site}/{box}/status",
        "lookout/v1/{site}/{box}/orders/{order_id}",
        "lookout/v1/{site}/{box}/orders/{order_id}/evidence/{name}",
        "lookout/v1/{site}/{box}/orders/{order_id}/clips/{name}/{index}",
        "lookout/v1/{site}/{box}/cmd/{verb}",
        "lookout/v1/{site}/{box}/cmd-result/{request_id}",
    ] {
        assert!(channels.contains(&address), "{address} missing");
    }
    // The topic layout in the document is the one the code uses.
    let topics = lookout::uplink::Topics::new("s", "b");
    assert_eq!(topics.status(), "lookout/v1/s/b/status");
    assert_eq!(topics.command("close"), "lookout/v1/s/b/cmd/close");
    assert_eq!(topics.command_result("r"), "lookout/v1/s/b/cmd-result/r");
    assert_eq!(
        topics.clip_chunk("o", "opened-1.mp4", 3),
        "lookout/v1/s/b/orders/o/clips/opened-1.mp4/3"
    );
    for (name, message) in doc["components"]["messages"].as_object().unwrap() {
        if let Some(r) = message["payload"]["$ref"].as_str() {
            let path = repo().join("docs").join(r);
            assert!(path.is_file(), "message {name}: {} missing", path.display());
        }
    }
}

#[test]
fn the_documents_examples_match_their_schemas() {
    let doc = asyncapi();
    let schemas = ApiSchemas::load();
    let mut checked = 0;
    for (name, topic) in [
        ("command", "cmd/dispatch"),
        ("commandResult", "cmd-result/x"),
    ] {
        for example in doc["components"]["messages"][name]["examples"]
            .as_array()
            .unwrap()
        {
            schemas.check(&Received {
                topic: format!("lookout/v1/s/b/{topic}"),
                payload: serde_json::to_vec(&example["payload"]).unwrap(),
                retain: false,
            });
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn what_the_cli_sends_matches_the_command_schema() {
    let body = lookout::control::command::CommandBody {
        request_id: "cli-1".into(),
        order_id: "019ab3c2-5f4e-7a10-9c1d-2b3e4f5a6b7c".into(),
        actor: "operator".into(),
        team: Some("team".into()),
        due: Some("2026-11-23T10:00:00+08:00".into()),
        ..Default::default()
    };
    ApiSchemas::load().check(&Received {
        topic: "lookout/v1/s/b/cmd/dispatch".into(),
        payload: serde_json::to_vec(&body).unwrap(),
        retain: false,
    });
}

#[test]
fn every_kind_of_refusal_matches_the_result_schema() {
    use lookout::control::{CommandError, CommandResult, ErrorCode};
    let schemas = ApiSchemas::load();
    for code in [
        ErrorCode::MalformedJson,
        ErrorCode::InvalidField,
        ErrorCode::UnknownVerb,
        ErrorCode::TooLarge,
        ErrorCode::WrongBox,
        ErrorCode::UnknownOrder,
        ErrorCode::IllegalTransition,
        ErrorCode::Internal,
    ] {
        let r = CommandResult::failed(
            None,
            None,
            None,
            CommandError::new(code, "why"),
            chrono::Utc::now(),
        );
        schemas.check(&Received {
            topic: "lookout/v1/s/b/cmd-result/_invalid".into(),
            payload: serde_json::to_vec(&r).unwrap(),
            retain: false,
        });
    }
}
