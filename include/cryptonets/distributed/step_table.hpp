// The per-step table that rank 0 of a distributed infer prints (cmd_infer_mpi.cpp). Pure text, no
// MPI: the layout is tested without a launcher.
#pragma once

#include <string>
#include <vector>

namespace cryptonets::distributed {

// One step's line: its name ("layer 3 (dense 845 -> 100): linear, partial sums") and, per unit,
// rank 0's wall-clock seconds, the CPU seconds of the busiest rank and of all ranks, and the bytes
// all ranks sent.
struct StepRow {
  std::string name;
  double wall_seconds = 0;
  double cpu_busiest_seconds = 0;
  double cpu_all_seconds = 0;
  double bytes_sent = 0;
};

// `title` on a line of its own, then a line of column heads and one line per row, each ending in
// '\n'. The step column is as wide as the longest name (at least its head), and each number
// column as wide as its head or its widest number, so that no name is cut and every column stays
// aligned, however long the names or large the numbers.
std::string format_step_table(const std::string& title, const std::vector<StepRow>& rows);

}  // namespace cryptonets::distributed
