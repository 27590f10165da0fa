# Network time against the thread count, one line per preset.
# Variables: dir, ncols (columns of scaling_threads_plot.csv).
set datafile separator ','
set terminal pngcairo size 900,520 font ',10'
set output dir.'/scaling_threads.png'
set title 'Scaling with threads (network, one batch)'
set xlabel 'threads'
set ylabel 'seconds'
set grid
set key top right
set xtics 1
set yrange [0:*]
# Half a thread either side of the counts run: a run of one thread count (--threads 1) gave
# gnuplot's "empty x range [1:1]" warning.
stats dir.'/scaling_threads_plot.csv' using 1 nooutput
set xrange [STATS_min - 0.5:STATS_max + 0.5]
plot for [i=2:ncols] dir.'/scaling_threads_plot.csv' using 1:i with linespoints lw 2 pt 7 \
     title columnhead(i)
