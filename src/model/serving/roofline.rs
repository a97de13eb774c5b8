//! Step times from first principles: a model's shape on a GPU's peak
//! compute, memory bandwidth and links (a roofline), with the presets
//! surge ships and the efficiencies fitted to a published measurement.
//!
//! A step of P prefill tokens and D decoding sequences attending to C
//! context tokens, on a replica of t GPUs, takes
//!
//! ```text
//! overhead + [t > 1]·2L·(allreduce_latency + 2(t−1)/t·(P + D)·hidden·2 B / link)
//!          + max(FLOPs / (t·peak·mfu), bytes / (t·HBM·bandwidth_utilization))
//! FLOPs = 2·params·(P + D) + 4·L·heads·head_dim·C
//! bytes = weights + KV bytes per token·(C + P)
//! ```
//!
//! (two all-reduces per layer for Megatron-style tensor parallelism, ring
//! all-reduce on the GPU's link). Each side of the max is affine in P, D
//! and C, so the step is the larger of two [`StepModel`] lines, and the
//! engine keeps its closed form. The attention of prefill tokens over
//! their own prompt is left out (for a 70B model it adds ≈ 2% of a
//! prefill's FLOPs per thousand prompt tokens).
//!
//! The *floor* is the same roofline at 100% of peak FLOP/s and bandwidth,
//! with no overhead or link latency: no engine runs a step faster. A
//! fitted step model given beside `model` and `gpu` is held above it.

use super::StepModel;

/// A dense decoder-only transformer's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelShape {
    /// Preset name, or `custom`.
    pub name: String,
    /// Parameters.
    pub params: f64,
    /// Transformer layers.
    pub layers: u32,
    /// Hidden size (model width).
    pub hidden: u32,
    /// Query heads.
    pub heads: u32,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: u32,
    /// Dimension of one head.
    pub head_dim: u32,
    /// Bytes per parameter and per KV element (2 for BF16).
    pub bytes_per_param: f64,
}

impl ModelShape {
    /// Bytes of the weights.
    pub fn weight_bytes(&self) -> f64 {
        self.params * self.bytes_per_param
    }

    /// Bytes of KV cache one token holds: keys and values in every layer.
    pub fn kv_bytes_per_token(&self) -> f64 {
        2.0 * f64::from(self.layers)
            * f64::from(self.kv_heads)
            * f64::from(self.head_dim)
            * self.bytes_per_param
    }
}

/// A GPU's peak numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuSpec {
    /// Preset name, or `custom`.
    pub name: String,
    /// Dense BF16/FP16 tensor FLOP/s (without 2:4 sparsity).
    pub flops: f64,
    /// HBM bandwidth, bytes/s.
    pub hbm_bandwidth: f64,
    /// Memory, bytes.
    pub memory: f64,
    /// GPU-to-GPU bandwidth in one direction, bytes/s (NVLink, or PCIe
    /// when there is none).
    pub link_bandwidth: f64,
}

/// How far below peak an engine runs, and what it adds per step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Efficiency {
    /// Share of peak FLOP/s reached (model FLOPs utilisation).
    pub mfu: f64,
    /// Share of peak HBM bandwidth reached.
    pub bandwidth_utilization: f64,
    /// Fixed cost of every step (scheduler, kernel launches), seconds.
    pub overhead_s: f64,
    /// Latency of one all-reduce, seconds.
    pub allreduce_latency_s: f64,
}

impl Efficiency {
    /// The defaults: fitted to Splitwise's measurements of Llama-2-70B on
    /// DGX-A100 and DGX-H100 at tensor parallel 2, 4 and 8
    /// (tests/data/roofline/: median error 15% on the A100 and 18% on the
    /// H100, worst 52%).
    pub const FITTED: Efficiency = Efficiency {
        mfu: 0.48,
        bandwidth_utilization: 1.0,
        overhead_s: 0.0205,
        allreduce_latency_s: 40e-6,
    };

    /// The physical floor: peak everything, nothing added.
    pub const PEAK: Efficiency = Efficiency {
        mfu: 1.0,
        bandwidth_utilization: 1.0,
        overhead_s: 0.0,
        allreduce_latency_s: 0.0,
    };
}

/// A model on a replica of `tp` GPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct Roofline {
    /// The model.
    pub model: ModelShape,
    /// The GPU.
    pub gpu: GpuSpec,
    /// GPUs per replica (tensor-parallel degree).
    pub tp: u32,
    /// The engine's efficiencies.
    pub efficiency: Efficiency,
}

impl Roofline {
    /// The compute and memory lines of a step at efficiency `e`.
    pub fn lines_at(&self, e: &Efficiency) -> [StepModel; 2] {
        let m = &self.model;
        let g = &self.gpu;
        let t = f64::from(self.tp);
        let layers = f64::from(m.layers);
        let (latency, per_token_link) = if self.tp > 1 {
            let bytes = f64::from(m.hidden) * m.bytes_per_param;
            (
                2.0 * layers * e.allreduce_latency_s,
                2.0 * layers * 2.0 * (t - 1.0) / t * bytes / g.link_bandwidth,
            )
        } else {
            (0.0, 0.0)
        };
        let flop_s = t * g.flops * e.mfu;
        let byte_s = t * g.hbm_bandwidth * e.bandwidth_utilization;
        let per_token_flops = 2.0 * m.params / flop_s;
        let attention = 4.0 * layers * f64::from(m.heads) * f64::from(m.head_dim) / flop_s;
        let kv = m.kv_bytes_per_token() / byte_s;
        let base = e.overhead_s + latency;
        let compute = StepModel {
            base_s: base,
            prefill_base_s: 0.0,
            per_prefill_token_s: per_token_flops + per_token_link,
            per_decode_seq_s: per_token_flops + per_token_link,
            per_context_token_s: attention,
        };
        let memory = StepModel {
            base_s: base + m.weight_bytes() / byte_s,
            prefill_base_s: 0.0,
            per_prefill_token_s: per_token_link + kv,
            per_decode_seq_s: per_token_link,
            per_context_token_s: kv,
        };
        [compute, memory]
    }

    /// The lines at the engine's efficiencies.
    pub fn lines(&self) -> [StepModel; 2] {
        self.lines_at(&self.efficiency)
    }

    /// The floor's lines: no step is faster.
    pub fn floor(&self) -> [StepModel; 2] {
        self.lines_at(&Efficiency::PEAK)
    }

    /// KV-cache tokens of one replica: `utilization` of its memory, less
    /// the weights (activations and CUDA graphs are not reserved), or
    /// `None` when the weights do not fit.
    pub fn kv_cache_tokens(&self, utilization: f64) -> Option<u64> {
        let free = self.gpu.memory * f64::from(self.tp) * utilization - self.model.weight_bytes();
        (free > 0.0).then(|| (free / self.model.kv_bytes_per_token()).floor() as u64)
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A preset model by name, with its source.
pub fn model_preset(name: &str) -> Option<ModelShape> {
    // Shapes from each model's config.json on Hugging Face
    // (meta-llama/Llama-3.1-8B, meta-llama/Llama-3.1-70B,
    // meta-llama/Llama-2-70b-hf); parameter counts from their model cards.
    let (params, layers, hidden, heads, kv_heads) = match name {
        "llama-3.1-8b" => (8.03e9, 32, 4096, 32, 8),
        "llama-3.1-70b" => (70.6e9, 80, 8192, 64, 8),
        "llama-2-70b" => (68.98e9, 80, 8192, 64, 8),
        _ => return None,
    };
    Some(ModelShape {
        name: name.to_string(),
        params,
        layers,
        hidden,
        heads,
        kv_heads,
        head_dim: 128,
        bytes_per_param: 2.0,
    })
}

/// The preset models' names.
pub const MODEL_PRESETS: &[&str] = &["llama-3.1-8b", "llama-3.1-70b", "llama-2-70b"];

/// A preset GPU by name.
pub fn gpu_preset(name: &str) -> Option<GpuSpec> {
    // NVIDIA's datasheets (dense BF16, i.e. half the "with sparsity"
    // figure; memory as the datasheet states it; link per direction, half
    // the bidirectional NVLink figure): A100 SXM 80GB, H100 SXM, H200 SXM,
    // HGX B200, L40S (PCIe Gen4 x16, no NVLink).
    let (tflops, tb_s, memory, link_gb_s) = match name {
        "a100-80g" => (312.0, 2.039, 80.0 * GIB, 300.0),
        "h100-sxm" => (989.0, 3.35, 80.0 * GIB, 450.0),
        "h200" => (989.0, 4.8, 141e9, 450.0),
        "b200" => (2250.0, 8.0, 180e9, 900.0),
        "l40s" => (362.05, 0.864, 48.0 * GIB, 32.0),
        _ => return None,
    };
    Some(GpuSpec {
        name: name.to_string(),
        flops: tflops * 1e12,
        hbm_bandwidth: tb_s * 1e12,
        memory,
        link_bandwidth: link_gb_s * 1e9,
    })
}

/// The preset GPUs' names.
pub const GPU_PRESETS: &[&str] = &["a100-80g", "h100-sxm", "h200", "b200", "l40s"];

#[cfg(test)]
mod tests {
    use super::*;

    fn llama70_h100(tp: u32) -> Roofline {
        Roofline {
            model: model_preset("llama-3.1-70b").unwrap(),
            gpu: gpu_preset("h100-sxm").unwrap(),
            tp,
            efficiency: Efficiency::PEAK,
        }
    }

    fn max_step(lines: &[StepModel], p: u64, d: u64, c: u64) -> f64 {
        lines.iter().map(|l| l.step_s(p, d, c)).fold(0.0, f64::max)
    }

    #[test]
    fn a_lone_decode_step_reads_the_weights_and_prefill_is_compute_bound() {
        let r = llama70_h100(1);
        let floor = r.floor();
        // 70.6e9 × 2 B at 3.35 TB/s: 42.1 ms, memory bound.
        let one = max_step(&floor, 0, 1, 0);
        assert!((one - 70.6e9 * 2.0 / 3.35e12).abs() < 1e-4, "{one}");
        assert!(floor[1].step_s(0, 1, 0) > floor[0].step_s(0, 1, 0));
        // 8,192 prompt tokens: 2 × 70.6e9 × 8192 FLOPs at 989 TFLOP/s.
        let prefill = max_step(&floor, 8192, 0, 0);
        assert!(
            (prefill - 2.0 * 70.6e9 * 8192.0 / 989e12).abs() < 1e-4,
            "{prefill}"
        );
        assert!(floor[0].step_s(8192, 0, 0) > floor[1].step_s(8192, 0, 0));
    }

    #[test]
    fn tensor_parallelism_divides_the_work_and_adds_links() {
        let one = max_step(&llama70_h100(1).floor(), 0, 64, 64_000);
        let eight = max_step(&llama70_h100(8).floor(), 0, 64, 64_000);
        // The link term: 160 all-reduces of 64 × 8192 × 2 B, 7/4 of it
        // over 450 GB/s.
        let link = 160.0 * 1.75 * 64.0 * 8192.0 * 2.0 / 450e9;
        assert!((eight - (one / 8.0 + link)).abs() < 1e-9, "{one} {eight}");
    }

    #[test]
    fn kv_capacity_is_memory_less_weights() {
        let r = llama70_h100(8);
        // 8 × 80 GiB × 0.9 − 141.2 GB, at 320 KiB a token.
        let want = ((8.0 * 80.0 * GIB * 0.9 - 70.6e9 * 2.0) / 327_680.0).floor() as u64;
        assert_eq!(r.kv_cache_tokens(0.9), Some(want));
        assert!(want > 1_400_000 && want < 1_500_000, "{want}");
        assert_eq!(llama70_h100(1).kv_cache_tokens(0.9), None);
    }

    #[test]
    fn every_preset_is_known_by_its_name() {
        for m in MODEL_PRESETS {
            assert_eq!(&model_preset(m).unwrap().name, m);
        }
        for g in GPU_PRESETS {
            assert_eq!(&gpu_preset(g).unwrap().name, g);
        }
        assert!(model_preset("gpt-5").is_none() && gpu_preset("tpu").is_none());
    }
}
