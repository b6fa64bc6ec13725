//! The accuracy harness as CI runs it: every shared clip replayed through its example config,
//! every expected order found and no false alarm (`eval/shared.toml`).

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

#[test]
fn every_shared_clip_raises_what_its_ground_truth_says_and_nothing_else() {
    let out = Command::new(lookout_bin())
        .current_dir(repo())
        .args(["eval", "eval/shared.toml", "--json"])
        .args(["--min-recall", "1", "--max-false-alarms", "0"])
        .output()
        .expect("run lookout eval");
    let card: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no scorecard ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    eprintln!("{}", serde_json::to_string_pretty(&card["kinds"]).unwrap());
    for clip in card["clips"].as_array().unwrap() {
        eprintln!(
            "{}: {} found, {} false alarms{}",
            clip["clip"],
            clip["outcomes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| !o["found"].is_null())
                .count(),
            clip["false_alarms"].as_array().unwrap().len(),
            clip["error"]
                .as_str()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(card["recall"], 1.0);
    assert_eq!(card["false_alarms"], 0);
    // Every clip of the shared media folder is in the ground truth.
    let clips: Vec<&str> = card["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["clip"].as_str().unwrap())
        .collect();
    for entry in std::fs::read_dir(shared().join("media/video")).expect("shared media") {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".mp4");
        assert!(
            clips.iter().any(|c| c.starts_with(stem)),
            "{name} has no entry in eval/shared.toml"
        );
    }
}
