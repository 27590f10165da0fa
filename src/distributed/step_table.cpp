// The per-step table of a distributed infer (step_table.hpp).
#include "cryptonets/distributed/step_table.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

namespace cryptonets::distributed {

namespace {

std::string number(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

void pad_right(std::string& line, const std::string& text, size_t width) {
  line += text;
  line.append(width - std::min(width, text.size()), ' ');
}

void pad_left(std::string& line, const std::string& text, size_t width) {
  line.append(width - std::min(width, text.size()), ' ');
  line += text;
}

}  // namespace

std::string format_step_table(const std::string& title, const std::vector<StepRow>& rows) {
  const std::string step_head = "step";
  constexpr std::array<const char*, 4> heads = {"wall s", "CPU s, busiest rank", "CPU s, all ranks",
                                                "bytes sent"};
  std::vector<std::array<std::string, 4>> cells;
  size_t step_width = step_head.size();
  std::array<size_t, 4> widths{};
  for (size_t c = 0; c < heads.size(); ++c)
    widths[c] = std::string(heads[c]).size();
  for (const StepRow& row : rows) {
    step_width = std::max(step_width, row.name.size());
    cells.push_back({number(row.wall_seconds, 3), number(row.cpu_busiest_seconds, 3),
                     number(row.cpu_all_seconds, 3), number(row.bytes_sent, 0)});
    for (size_t c = 0; c < widths.size(); ++c)
      widths[c] = std::max(widths[c], cells.back()[c].size());
  }
  std::string text = title + "\n";
  std::string line = "  ";
  pad_right(line, step_head, step_width);
  for (size_t c = 0; c < heads.size(); ++c) {
    line += "  ";
    pad_left(line, heads[c], widths[c]);
  }
  text += line + "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    line = "  ";
    pad_right(line, rows[r].name, step_width);
    for (size_t c = 0; c < widths.size(); ++c) {
      line += "  ";
      pad_left(line, cells[r][c], widths[c]);
    }
    text += line + "\n";
  }
  return text;
}

}  // namespace cryptonets::distributed
