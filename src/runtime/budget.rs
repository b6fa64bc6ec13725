//! The compute plan: what detection rate each camera gets from each model, planned from the
//! models' measured cost and the cores the box has, instead of a box that silently falls behind.
//!
//! Every camera asks for a rate per model (`detect_fps`, `model_fps`). The plan adds up what
//! that costs — frames a second × views a frame × session time a view — and compares it with
//! what the box can give: its cores (or its GPU) times `[models] budget`, the rest left for
//! decoding, letterboxing, tracking and the rules. When it fits, every camera gets what it asked
//! for. When it does not, rates are lowered by priority: every `low` camera's rates by one
//! factor down to `[models] min_fps`, then the `normal` ones, then the `high` ones (fire and
//! water by default) — each class only as far as needed. The plan assumes every frame moves:
//! motion gating then only makes the box cheaper than planned.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::SharedDetector;
use crate::config::{CameraConfig, Config, Execution, Priority};
use crate::detect::Manifest;

/// The frame the plan assumes before a camera has streamed (most cameras are 16:9).
const ASSUMED_FRAME: (u32, u32) = (1280, 720);

/// The input a model's cost is measured at: what it is fed for a 16:9 frame.
pub fn calibration_size(manifest: &Manifest) -> (u32, u32) {
    manifest.contract.input_size(
        ASSUMED_FRAME.0,
        ASSUMED_FRAME.1,
        manifest.defaults.input_size,
    )
}

/// Core-seconds a second the box gives inference: its physical cores (on a CPU) or its one
/// GPU, times `[models] budget`.
pub fn capacity(config: &Config) -> f64 {
    let devices = match config.models.execution {
        Execution::Cpu => physical_cores() as f64,
        Execution::Cuda | Execution::Tensorrt => 1.0,
    };
    devices * config.models.budget
}

/// The priority of a camera's model: the camera's own, else `high` when an urgent rule of the
/// camera reads what the model finds (objects or regions), else `normal`.
pub fn priority(config: &Config, camera: &CameraConfig, manifest: &Manifest) -> Priority {
    if let Some(p) = camera.priority {
        return p;
    }
    let Ok(rules) = crate::rules::RuleEngine::new(camera, config.identity.offset()) else {
        return Priority::Normal;
    };
    let urgent = rules.urgent_inputs();
    if (manifest.defaults.track && urgent.objects) || (!manifest.defaults.track && urgent.regions) {
        Priority::High
    } else {
        Priority::Normal
    }
}

/// What `camera` asks of the model of `manifest`, or `None` when its options do not fit it.
pub fn demand(config: &Config, camera: &CameraConfig, manifest: &Manifest) -> Option<Demand> {
    let options = super::camera::detect_options(camera, manifest).ok()?;
    let wanted = camera
        .model_fps
        .get(&manifest.name)
        .copied()
        .unwrap_or(manifest.defaults.fps)
        .min(camera.detect_fps);
    let (cw, ch) = calibration_size(manifest);
    let unit = (cw as f64 * ch as f64).max(1.0);
    let (fw, fh) = ASSUMED_FRAME;
    let views = match options.tiles {
        None => vec![crate::detect::View::whole(fw, fh)],
        Some(t) => t.views(fw, fh),
    };
    let views = views
        .iter()
        .map(|v| {
            let (w, h) = manifest.contract.input_size(v.w, v.h, options.input_size);
            w as f64 * h as f64 / unit
        })
        .sum();
    Some(Demand {
        camera: camera.id.clone(),
        model: manifest.name.clone(),
        wanted,
        views,
        priority: priority(config, camera, manifest),
    })
}

/// The plan of `cameras` with the loaded `models` (those that failed to load are left out).
pub fn plan_config(
    config: &Config,
    cameras: &[CameraConfig],
    models: &BTreeMap<String, Result<SharedDetector, String>>,
) -> Plan {
    let mut demands = Vec::new();
    let mut costs = BTreeMap::new();
    for camera in cameras {
        for name in &camera.models {
            let Some(Ok(scheduler)) = models.get(name) else {
                continue;
            };
            let manifest = scheduler.model().manifest();
            if let Some(cost) = scheduler.view_cost() {
                costs.insert(name.clone(), cost);
            }
            demands.extend(demand(config, camera, manifest));
        }
    }
    plan(&demands, &costs, capacity(config), config.models.min_fps)
}

/// What one camera asks of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Demand {
    pub camera: String,
    pub model: String,
    /// Frames a second it asks for.
    pub wanted: f64,
    /// Session runs a frame in units of the calibration input (tiles and the whole frame, each
    /// scaled by its input's pixels).
    pub views: f64,
    pub priority: Priority,
}

/// The plan of one camera and model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub camera: String,
    pub model: String,
    pub priority: Priority,
    pub wanted: f64,
    /// Frames a second it gets.
    pub planned: f64,
    /// Core-seconds a second it costs at the planned rate.
    pub load: f64,
}

/// What the box runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub rows: Vec<Planned>,
    /// Core-seconds a second the box can give inference (cores × budget).
    pub capacity: f64,
    /// Core-seconds a second all cameras ask for.
    pub wanted_load: f64,
    /// Core-seconds a second the plan spends.
    pub planned_load: f64,
    /// Session time of one view, per model.
    #[serde(serialize_with = "millis")]
    pub costs: BTreeMap<String, Duration>,
}

fn millis<S: serde::Serializer>(
    costs: &BTreeMap<String, Duration>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(costs.len()))?;
    for (k, v) in costs {
        map.serialize_entry(k, &(v.as_secs_f64() * 1000.0))?;
    }
    map.end()
}

impl Plan {
    /// The rates were lowered to fit.
    pub fn degraded(&self) -> bool {
        self.rows.iter().any(|r| r.planned + 1e-9 < r.wanted)
    }

    /// The planned rate of a camera's model (what it asked for when it is not in the plan).
    pub fn rate(&self, camera: &str, model: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.camera == camera && r.model == model)
            .map(|r| r.planned)
    }

    /// The plan as a table for a person (`lookout plan`, `doctor`).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<20} {:<24} {:<8} {:>8} {:>8} {:>8}",
            "camera", "model", "priority", "wanted", "planned", "cores"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<20} {:<24} {:<8} {:>8.2} {:>8.2} {:>8.3}{}",
                r.camera,
                r.model,
                r.priority.as_str(),
                r.wanted,
                r.planned,
                r.load,
                if r.planned + 1e-9 < r.wanted {
                    "  lowered"
                } else {
                    ""
                }
            );
        }
        let _ = writeln!(out);
        for (model, cost) in &self.costs {
            let _ = writeln!(
                out,
                "{model}: {:.1} ms a view (measured)",
                cost.as_secs_f64() * 1000.0
            );
        }
        let _ = writeln!(
            out,
            "wanted {:.2} cores of inference, the budget gives {:.2}: {}",
            self.wanted_load,
            self.capacity,
            if self.degraded() {
                format!(
                    "OVER BUDGET, rates lowered by priority (low first) to {:.2} cores",
                    self.planned_load
                )
            } else {
                "fits".to_owned()
            }
        );
        out
    }
}

/// Plans the rates of `demands` on `capacity` core-seconds a second, given each model's cost of
/// one view; no rate below `min_fps` (or what was asked, when that is less).
pub fn plan(
    demands: &[Demand],
    costs: &BTreeMap<String, Duration>,
    capacity: f64,
    min_fps: f64,
) -> Plan {
    let cost_of = |d: &Demand| costs.get(&d.model).map_or(0.0, Duration::as_secs_f64) * d.views;
    let mut rates: Vec<f64> = demands.iter().map(|d| d.wanted).collect();
    let load =
        |rates: &[f64]| -> f64 { demands.iter().zip(rates).map(|(d, r)| r * cost_of(d)).sum() };
    let wanted_load = load(&rates);
    for class in [Priority::Low, Priority::Normal, Priority::High] {
        let excess = load(&rates) - capacity;
        if excess <= 1e-12 {
            break;
        }
        // What this class could give up: its load above its floors.
        let members: Vec<usize> = (0..demands.len())
            .filter(|&i| demands[i].priority == class)
            .collect();
        let floor = |i: usize| min_fps.min(demands[i].wanted);
        let above: f64 = members
            .iter()
            .map(|&i| (rates[i] - floor(i)).max(0.0) * cost_of(&demands[i]))
            .sum();
        if above <= 1e-12 {
            continue;
        }
        // One factor for the whole class: each keeps the same share of what it asked above
        // its floor.
        let keep = ((above - excess) / above).clamp(0.0, 1.0);
        for &i in &members {
            rates[i] = floor(i) + (rates[i] - floor(i)).max(0.0) * keep;
        }
    }
    let rows = demands
        .iter()
        .zip(&rates)
        .map(|(d, &r)| Planned {
            camera: d.camera.clone(),
            model: d.model.clone(),
            priority: d.priority,
            wanted: d.wanted,
            planned: r,
            load: r * cost_of(d),
        })
        .collect();
    Plan {
        rows,
        capacity,
        wanted_load,
        planned_load: load(&rates),
        costs: costs.clone(),
    }
}

/// The physical cores this process may use: the logical CPUs it is allowed, less the SMT
/// siblings (two hyper-threads share one core's arithmetic units, which is what inference uses).
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let siblings =
        std::fs::read_to_string("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
            .ok()
            .map_or(1, |list| count_cpus(list.trim()));
    (logical / siblings.max(1)).max(1)
}

/// How many CPUs a Linux CPU list names (`0-3,8,10-11` → 7).
fn count_cpus(list: &str) -> usize {
    list.split(',')
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(camera: &str, model: &str, wanted: f64, priority: Priority) -> Demand {
        Demand {
            camera: camera.into(),
            model: model.into(),
            wanted,
            views: 1.0,
            priority,
        }
    }

    fn costs() -> BTreeMap<String, Duration> {
        BTreeMap::from([
            ("person".to_owned(), Duration::from_millis(10)),
            ("fire".to_owned(), Duration::from_millis(150)),
        ])
    }

    #[test]
    fn a_plan_that_fits_gives_every_camera_what_it_asked_for() {
        let demands: Vec<Demand> = (0..8)
            .map(|i| demand(&format!("c{i}"), "person", 5.0, Priority::Normal))
            .collect();
        let p = plan(&demands, &costs(), 1.8, 0.2);
        assert!(!p.degraded());
        assert!(p.rows.iter().all(|r| r.planned == 5.0));
        assert!((p.planned_load - 0.4).abs() < 1e-9, "{}", p.planned_load);
    }

    /// Sixteen cameras with the person model at 2/s (normal) and the fire model at 1/s on all
    /// (high): 0.32 + 2.4 cores on a 1.8-core budget. The person model gives way first, down to
    /// its floor; then the fire model shares what is left.
    #[test]
    fn over_budget_lowers_the_low_priorities_first_and_never_below_the_floor() {
        let mut demands = Vec::new();
        for i in 0..16 {
            demands.push(demand(&format!("c{i}"), "person", 2.0, Priority::Normal));
            demands.push(demand(&format!("c{i}"), "fire", 1.0, Priority::High));
        }
        let p = plan(&demands, &costs(), 1.8, 0.2);
        assert!(p.degraded());
        assert!((p.planned_load - 1.8).abs() < 1e-6, "{}", p.planned_load);
        for r in &p.rows {
            match r.model.as_str() {
                "person" => assert!((r.planned - 0.2).abs() < 1e-9, "{r:?}"),
                _ => {
                    assert!(r.planned < 1.0 && r.planned > 0.2, "{r:?}");
                }
            }
        }
        // The high class keeps as much as fits: 16 × 0.2 × 10 ms + 16 × f × 150 ms = 1.8.
        let fire = p.rate("c0", "fire").unwrap();
        assert!((fire - (1.8 - 0.032) / 2.4).abs() < 1e-6, "{fire}");
        assert!(p.table().contains("OVER BUDGET"));
    }

    #[test]
    fn a_class_above_its_floor_only_gives_what_is_needed() {
        let demands = vec![
            demand("a", "person", 10.0, Priority::Low),
            demand("b", "person", 10.0, Priority::High),
        ];
        // 0.2 cores asked, 0.15 given: the low camera gives up 0.05 (5 fps), the high none.
        let p = plan(&demands, &costs(), 0.15, 0.2);
        assert!((p.rate("a", "person").unwrap() - 5.0).abs() < 1e-6);
        assert_eq!(p.rate("b", "person"), Some(10.0));
    }

    #[test]
    fn cpu_lists_count() {
        assert_eq!(count_cpus("0"), 1);
        assert_eq!(count_cpus("0,8"), 2);
        assert_eq!(count_cpus("0-3,8,10-11"), 7);
        assert!(physical_cores() >= 1);
    }
}
