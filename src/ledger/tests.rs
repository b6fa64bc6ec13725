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
        class: MessageClass::Order,
    }
}

fn photo(topic: &str, bytes: usize) -> OutMessage {
    OutMessage {
        topic: topic.into(),
        payload: vec![0xff; bytes],
        retain: false,
        class: MessageClass::Evidence,
    }
}

#[test]
fn over_the_quota_the_oldest_photos_go_first_and_orders_never() {
    let mut l = Ledger::in_memory().unwrap();
    l.set_quota(10_000);
    let r = l
        .record(&order("a", 1), &[photo("p1", 4000), msg("order-a-1")])
        .unwrap();
    assert_eq!(r, Recorded::default());
    let r = l
        .record(&order("b", 1), &[photo("p2", 4000), msg("order-b-1")])
        .unwrap();
    assert_eq!(r, Recorded::default(), "8 kB + two documents fit");
    let r = l
        .record(&order("c", 1), &[photo("p3", 4000), msg("order-c-1")])
        .unwrap();
    assert_eq!(r.dropped_evidence, 1);
    assert!(!r.over_quota);
    let topics: Vec<String> = l
        .pending(0, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.message.topic)
        .collect();
    assert_eq!(topics, ["order-a-1", "p2", "order-b-1", "p3", "order-c-1"]);
    // A quota smaller than the documents alone: every photo goes, every document stays.
    l.set_quota(10);
    let r = l.record(&order("d", 1), &[msg("order-d-1")]).unwrap();
    assert_eq!(r.dropped_evidence, 2);
    assert!(r.over_quota);
    assert_eq!(l.outbox_len().unwrap(), 4);
}

#[test]
fn a_command_is_answered_once_and_remembered() {
    let mut l = Ledger::in_memory().unwrap();
    let c = CommandRecord {
        request_id: "r1".into(),
        verb: "dispatch".into(),
        order_id: Some("a".into()),
        received_at: "2026-11-23T00:00:00.000Z".into(),
        result: b"{\"ok\":true}".to_vec(),
    };
    l.record_command(&c, Some(&order("a", 2)), &[msg("result-r1")])
        .unwrap();
    let answered = l.answered("r1").unwrap().unwrap();
    assert_eq!(answered.result, c.result);
    assert_eq!(l.order("a").unwrap().unwrap().revision, 2);
    assert!(l.answered("r2").unwrap().is_none());
}

#[test]
fn an_old_outbox_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    {
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
             payload BLOB NOT NULL, retain INTEGER NOT NULL);
             INSERT INTO outbox (topic, payload, retain) VALUES ('t', x'0102', 0);",
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.outbox_bytes().unwrap(), 2);
    assert_eq!(
        l.pending(0, 1).unwrap()[0].message.class,
        MessageClass::Order
    );
    drop(l);
    Ledger::open(&path).expect("a second open does not migrate twice");
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

#[test]
fn every_revision_is_kept_and_final_orders_are_pruned_when_old() {
    let mut l = Ledger::in_memory().unwrap();
    l.record(&order("a", 1), &[]).unwrap();
    l.record(&order("a", 2), &[]).unwrap();
    let mut closed = order("b", 1);
    closed.state = OrderState::Closed;
    l.record(&closed, &[]).unwrap();
    assert_eq!(
        l.revisions("a")
            .unwrap()
            .iter()
            .map(|o| o.revision)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    // Fixture orders were updated at 2026-11-23T00:00:01Z.
    assert_eq!(
        l.prune_final("2026-11-23T00:00:00.000Z").unwrap(),
        0,
        "not old enough"
    );
    assert_eq!(
        l.prune_final("2026-12-01T00:00:00.000Z").unwrap(),
        1,
        "only the closed one"
    );
    assert!(l.order("b").unwrap().is_none());
    assert!(l.revisions("b").unwrap().is_empty());
    assert!(l.order("a").unwrap().is_some(), "open work is never pruned");
}

fn evidence(order_id: &str, name: &str, bytes: usize) -> OutMessage {
    photo(
        &format!("lookout/v1/s/b/orders/{order_id}/evidence/{name}"),
        bytes,
    )
}

fn in_state(id: &str, revision: u32, state: &str) -> WorkOrder {
    let mut o = order(id, revision);
    o.state = serde_json::from_value(serde_json::json!(state)).unwrap();
    o
}

#[test]
fn the_evidence_store_evicts_final_orders_photos_first_and_records_what_went() {
    let mut l = Ledger::in_memory().unwrap();
    l.set_evidence_max(100_000);
    l.record(&order("a", 1), &[evidence("a", "opened-1.jpg", 40_000)])
        .unwrap();
    l.record(&order("b", 1), &[evidence("b", "opened-1.jpg", 40_000)])
        .unwrap();
    l.record(&in_state("b", 2, "closed"), &[msg("order-b-2")])
        .unwrap();
    // 120 kB over 100: the closed order's photo goes, though the open one's is older.
    let r = l
        .record(&order("c", 1), &[evidence("c", "opened-1.jpg", 40_000)])
        .unwrap();
    assert_eq!(r.evicted_evidence, 1);
    assert!(l.evidence("a", "opened-1.jpg").unwrap().is_some());
    assert!(l.evidence("b", "opened-1.jpg").unwrap().is_none());
    let gone = l.evicted_evidence("b").unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].0, "opened-1.jpg");
    assert_eq!(gone[0].2, "evidence_max_bytes");
    assert!(l.unnoted_evictions().unwrap().is_empty(), "closed: no note");
    // No final photo left: the oldest open one goes, and waits for its timeline note.
    let r = l
        .record(&order("d", 1), &[evidence("d", "opened-1.jpg", 40_000)])
        .unwrap();
    assert_eq!(r.evicted_evidence, 1);
    let unnoted = l.unnoted_evictions().unwrap();
    assert_eq!(
        unnoted,
        [Eviction {
            order_id: "a".into(),
            name: "opened-1.jpg".into(),
            bytes: 40_000
        }]
    );
    l.mark_noted(&unnoted[0]).unwrap();
    assert!(l.unnoted_evictions().unwrap().is_empty());
    assert_eq!(l.evidence_bytes().unwrap(), 80_000);
    assert_eq!(l.evidence_evictions().unwrap(), 2);
    // Delivery does not remove the store's copy: acknowledging every message keeps it.
    for p in l.pending(0, 100).unwrap() {
        l.acknowledge(p.seq).unwrap();
    }
    assert_eq!(
        l.evidence("d", "opened-1.jpg").unwrap().map(|d| d.len()),
        Some(40_000)
    );
}

#[test]
fn a_long_run_never_holds_more_evidence_than_its_bound_and_keeps_every_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
    let max = 1024 * 1024;
    l.set_evidence_max(max);
    let mut largest = 0;
    for i in 0..600u32 {
        let id = format!("o{i}");
        // Photos of 10 to 90 kB; every third order closes after its second revision.
        let size = 10_000 + (i as usize * 7919) % 80_000;
        l.record(
            &order(&id, 1),
            &[evidence(&id, "opened-1.jpg", size), msg(&id)],
        )
        .unwrap();
        if i % 3 == 0 {
            l.record(
                &in_state(&id, 2, "closed"),
                &[evidence(&id, "updated-2.jpg", size / 2), msg(&id)],
            )
            .unwrap();
        }
        // Every fifth order gets a clip of 150 to 250 kB, kept in the same store.
        if i % 5 == 1 {
            let clip = vec![1u8; 150_000 + (i as usize * 104_729) % 100_000];
            let mut messages = vec![msg(&id)];
            messages.extend(clip_chunks(&id, "opened-1.mp4", 1, 100));
            let file = EvidenceFile {
                order_id: &id,
                name: "opened-1.mp4",
                data: &clip,
            };
            l.record_clip(&order(&id, 3), &messages, file).unwrap();
        }
        let held = l.evidence_bytes().unwrap();
        largest = largest.max(held);
        assert!(held <= max, "after order {i}: {held} bytes kept over {max}");
    }
    assert!(largest > max * 9 / 10, "the store filled up: {largest}");
    for i in 0..600 {
        assert!(l.order(&format!("o{i}")).unwrap().is_some(), "order o{i}");
    }
    let evicted = l.evidence_evictions().unwrap();
    assert!(evicted > 500, "{evicted} evictions recorded");
    // The newest photos and clips are the ones kept.
    assert!(l.evidence("o599", "opened-1.jpg").unwrap().is_some());
    assert!(l.evidence("o596", "opened-1.mp4").unwrap().is_some());
    assert!(l.evidence("o1", "opened-1.jpg").unwrap().is_none());
    assert!(l.evidence("o1", "opened-1.mp4").unwrap().is_none());
    let gone = l.evicted_evidence("o1").unwrap();
    assert!(
        gone.iter().any(|(name, _, _)| name == "opened-1.mp4"),
        "{gone:?}"
    );
}

fn clip_chunks(order_id: &str, name: &str, chunks: usize, bytes: usize) -> Vec<OutMessage> {
    (0..chunks)
        .map(|i| OutMessage {
            topic: format!("r/orders/{order_id}/clips/{name}/{i}"),
            payload: vec![i as u8; bytes],
            retain: false,
            class: MessageClass::Clip,
        })
        .collect()
}

#[test]
fn clip_chunks_wait_behind_everything_else_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut l = Ledger::open(&path).unwrap();
    let mut messages = vec![msg("order-a-2")];
    messages.extend(clip_chunks("a", "opened-1.mp4", 4, 1000));
    let clip = vec![7u8; 3500];
    l.record_clip(
        &order("a", 2),
        &messages,
        EvidenceFile {
            order_id: "a",
            name: "opened-1.mp4",
            data: &clip,
        },
    )
    .unwrap();
    // A later order revision goes out before the clip's chunks.
    l.record(&order("b", 1), &[photo("p-b", 100), msg("order-b-1")])
        .unwrap();
    let topics =
        |rows: Vec<Pending>| -> Vec<String> { rows.into_iter().map(|p| p.message.topic).collect() };
    assert_eq!(
        topics(l.pending(0, 100).unwrap()),
        ["order-a-2", "p-b", "order-b-1"]
    );
    let chunks = l.pending_clips(0, 100).unwrap();
    assert_eq!(chunks.len(), 4);
    // The clip is kept whole in the evidence store.
    assert_eq!(l.evidence("a", "opened-1.mp4").unwrap(), Some(clip));
    // Two chunks reach the broker, then the power goes: the others are sent after it.
    l.acknowledge(chunks[0].seq).unwrap();
    l.acknowledge(chunks[1].seq).unwrap();
    drop(l);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(
        topics(l.pending_clips(0, 100).unwrap()),
        [
            "r/orders/a/clips/opened-1.mp4/2",
            "r/orders/a/clips/opened-1.mp4/3"
        ]
    );
}

#[test]
fn over_the_quota_whole_clips_go_before_any_photo() {
    let mut l = Ledger::in_memory().unwrap();
    l.set_quota(20_000);
    let mut messages = vec![msg("order-a-2")];
    messages.extend(clip_chunks("a", "opened-1.mp4", 3, 3000));
    let data = vec![1u8; 9000];
    let file = EvidenceFile {
        order_id: "a",
        name: "opened-1.mp4",
        data: &data,
    };
    l.record_clip(&order("a", 2), &messages, file).unwrap();
    l.record(&order("b", 1), &[photo("p-b", 4000), msg("order-b-1")])
        .unwrap();
    // 9 kB of clip + 4 kB of photo + documents fit; 8 kB more does not: the clip goes, whole.
    let r = l
        .record(&order("c", 1), &[photo("p-c", 8000), msg("order-c-1")])
        .unwrap();
    assert_eq!(r.dropped_evidence, 1);
    assert!(l.pending_clips(0, 100).unwrap().is_empty());
    let topics: Vec<String> = l
        .pending(0, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.message.topic)
        .collect();
    assert_eq!(
        topics,
        ["order-a-2", "p-b", "order-b-1", "p-c", "order-c-1"]
    );
}
