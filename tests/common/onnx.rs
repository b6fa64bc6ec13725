//! Tiny ONNX graphs written by hand (protobuf wire format), for testing decoders of layouts no
//! real model file is at hand for: each graph takes an `images` input of any size and returns
//! constant tensors of the shapes a real model of that layout would (plus 0 × the input's mean,
//! so the input is really used).

use std::path::Path;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A protobuf message under construction.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn int(mut self, field: u32, v: i64) -> Self {
        varint((field as u64) << 3, &mut self.0);
        varint(v as u64, &mut self.0);
        self
    }
    fn bytes(mut self, field: u32, data: &[u8]) -> Self {
        varint(((field as u64) << 3) | 2, &mut self.0);
        varint(data.len() as u64, &mut self.0);
        self.0.extend_from_slice(data);
        self
    }
    fn str(self, field: u32, s: &str) -> Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(self, field: u32, m: Msg) -> Self {
        self.bytes(field, &m.0)
    }
}

const FLOAT: i64 = 1;

fn tensor(dims: &[usize], values: &[f32]) -> Msg {
    let mut t = Msg::default();
    for d in dims {
        t = t.int(1, *d as i64);
    }
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    t.int(2, FLOAT).bytes(9, &raw)
}

fn constant(output: &str, dims: &[usize], values: &[f32]) -> Msg {
    let attr = Msg::default()
        .str(1, "value")
        .msg(5, tensor(dims, values))
        .int(20, 4);
    Msg::default()
        .str(2, output)
        .str(4, "Constant")
        .msg(5, attr)
}

fn node(op: &str, inputs: &[&str], output: &str) -> Msg {
    let mut n = Msg::default();
    for i in inputs {
        n = n.str(1, i);
    }
    n.str(2, output).str(4, op)
}

/// A value of float type and shape `dims` (`None` = a named free dimension).
fn value_info(name: &str, dims: &[Option<usize>]) -> Msg {
    let mut shape = Msg::default();
    for (i, d) in dims.iter().enumerate() {
        let dim = match d {
            Some(v) => Msg::default().int(1, *v as i64),
            None => Msg::default().str(2, &format!("d{i}")),
        };
        shape = shape.msg(1, dim);
    }
    let tensor_type = Msg::default().int(1, FLOAT).msg(2, shape);
    Msg::default()
        .str(1, name)
        .msg(2, Msg::default().msg(1, tensor_type))
}

/// Writes a model with input `images` [1, 3, H, W] and one constant output per `(name, shape,
/// values)`.
pub fn write_constant_model(path: &Path, outputs: &[(&str, Vec<usize>, Vec<f32>)]) {
    // m = mean(images) over all axes but the batch; z = 0 × m: a [1] tensor that broadcasts.
    let reduce = {
        let axes = Msg::default()
            .str(1, "axes")
            .int(8, 1)
            .int(8, 2)
            .int(8, 3)
            .int(20, 7);
        let keep = Msg::default().str(1, "keepdims").int(3, 0).int(20, 2);
        node("ReduceMean", &["images"], "m")
            .msg(5, axes)
            .msg(5, keep)
    };
    let mut graph = Msg::default()
        .msg(1, reduce)
        .msg(1, constant("zero", &[], &[0.0]))
        .msg(1, node("Mul", &["m", "zero"], "z"));
    for (name, shape, values) in outputs {
        let c = format!("{name}_const");
        graph = graph
            .msg(1, constant(&c, shape, values))
            .msg(1, node("Add", &[&c, "z"], name));
    }
    graph = graph
        .str(2, "constant_test_model")
        .msg(11, value_info("images", &[Some(1), Some(3), None, None]));
    for (name, shape, _) in outputs {
        let dims: Vec<Option<usize>> = shape.iter().map(|d| Some(*d)).collect();
        graph = graph.msg(12, value_info(name, &dims));
    }
    let model = Msg::default()
        .int(1, 8)
        .str(2, "lookout-tests")
        .msg(7, graph)
        .msg(8, Msg::default().str(1, "").int(2, 17));
    std::fs::write(path, model.0).expect("write the test model");
}
