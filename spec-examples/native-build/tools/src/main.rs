//! toyinfer-gen ROWS COLS: writes a ROWS x COLS matrix of little-endian f32 weights to
//! stdout, after a header of two little-endian u32 (rows, cols). Deterministic.
use std::io::Write;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("ROWS and COLS are positive integers"))
        .collect();
    let (rows, cols) = match args[..] {
        [r, c] if r > 0 && c > 0 => (r, c),
        _ => {
            eprintln!("usage: toyinfer-gen ROWS COLS > weights.bin");
            std::process::exit(2);
        }
    };
    let mut out = Vec::with_capacity(8 + rows * cols * 4);
    out.extend_from_slice(&(rows as u32).to_le_bytes());
    out.extend_from_slice(&(cols as u32).to_le_bytes());
    for r in 0..rows {
        for c in 0..cols {
            // Row r weighs column c by ((r + c) % 5 - 2) / 2: a few negative rows for relu.
            let w = (((r + c) % 5) as f32 - 2.0) / 2.0;
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
    std::io::stdout().write_all(&out).expect("write weights");
}
