//! The process-wide ONNX Runtime environment, loaded from a shared library at a configured path.

use std::path::Path;
use std::sync::Mutex;

use ort::environment::Environment;

use super::DetectError;

static ENVIRONMENT: Mutex<Option<Environment>> = Mutex::new(None);

/// Loads `libonnxruntime.so` from `library` (once per process) and returns the environment.
///
/// ONNX Runtime allows one environment per process, so later calls return the first one whatever
/// path they pass.
pub fn environment(library: &Path) -> Result<Environment, DetectError> {
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    if !library.is_file() {
        return Err(DetectError::Runtime(format!(
            "ONNX Runtime library {} not found (run scripts/setup.sh, or set models.onnxruntime to libonnxruntime.so)",
            library.display()
        )));
    }
    let env = ort::init_from(library)
        .map_err(|e| {
            DetectError::Runtime(format!(
                "cannot load ONNX Runtime from {}: {e}",
                library.display()
            ))
        })?
        .with_name("lookout")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            DetectError::Runtime(format!("cannot create the ONNX Runtime environment: {e}"))
        })?;
    *guard = Some(env.clone());
    Ok(env)
}
