// For lesson_finish.sh: makes COUNT claims that do not hold (the first argument, default 0) and
// returns finish()'s value, so that the summary a failing lesson prints can be checked.
#include <cstdlib>

#include "lesson.hpp"

int main(int argc, char** argv) {
  const int failing = argc > 1 ? std::atoi(argv[1]) : 0;
  for (int i = 0; i < failing; ++i)
    lesson::claim(false, "a claim that does not hold");
  return lesson::finish();
}
