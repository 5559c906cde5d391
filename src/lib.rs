//! kura: workspace-level tests and benchmarks; the product lives in `collector/` and `query/`.
