use super::*;

fn order(id: &str, revision: u32) -> WorkOrder {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "id": id, "revision": revision, "site": "s", "box": "b",
        "camera": {"id": "cam", "name": "cam"}, "zone": null, "kind": "fire", "event_code": "2103",
        "severity": "red", "state": "open", "title": "t", "opened_at": "2026-11-23T00:00:00.000Z",
        "updated_at": "2026-11-23T00:00:01.000Z", "count": 1, "objects": [],
        "location": {"lat": 30.0, "lon": 120.0, "accuracy_m": 10.0, "method": "camera_position"},
        "evidence": [], "timeline": []
    }))
    .expect("order fixture")
}

fn msg(topic: &str) -> OutMessage {
    OutMessage {
        topic: topic.into(),
        payload: topic.as_bytes().to_vec(),
        retain: false,
    }
}

#[test]
fn messages_stay_until_acknowledged_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    {
        let mut l = Ledger::open(&path).unwrap();
        l.record(&order("a", 1), &[msg("photo-a"), msg("order-a-1")])
            .unwrap();
        l.record(&order("a", 2), &[msg("order-a-2")]).unwrap();
        let p = l.pending(0, 10).unwrap();
        assert_eq!(
            p.iter()
                .map(|p| p.message.topic.as_str())
                .collect::<Vec<_>>(),
            ["photo-a", "order-a-1", "order-a-2"]
        );
        l.acknowledge(p[0].seq).unwrap();
        assert_eq!(
            l.pending(p[0].seq, 1).unwrap()[0].message.topic,
            "order-a-1"
        );
    }
    // Reopened (a restart): what was not acknowledged is still there, in order.
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.outbox_len().unwrap(), 2);
    assert_eq!(l.pending(0, 10).unwrap()[0].message.topic, "order-a-1");
    assert_eq!(
        l.order("a").unwrap().unwrap().revision,
        2,
        "latest revision kept"
    );
}

#[test]
fn an_older_revision_never_overwrites_a_newer_one() {
    let mut l = Ledger::in_memory().unwrap();
    l.record(&order("a", 3), &[]).unwrap();
    l.record(&order("a", 2), &[]).unwrap();
    assert_eq!(l.order("a").unwrap().unwrap().revision, 3);
}
