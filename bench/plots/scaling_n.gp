# Time against the ring degree n (log-log), plaintext modulus 1.
# Variables: dir.
set datafile separator ','
set terminal pngcairo size 900,520 font ',10'
set output dir.'/scaling_n.png'
set title 'Scaling with the ring degree n (plaintext modulus 1)'
set xlabel 'ring degree n'
set ylabel 'seconds'
set logscale xy 2
# Half a power of two either side of the ring degrees measured: one ring degree (--scaling-n 1024)
# gave gnuplot's "empty x range [1024:1024]" warning.
stats dir.'/scaling_n_plot.csv' using 1 nooutput
set xrange [STATS_min / sqrt(2):STATS_max * sqrt(2)]
set grid
set key top left
plot dir.'/scaling_n_plot.csv' using 1:2 with linespoints lw 2 pt 7 title columnhead(2), \
     ''                         using 1:3 with linespoints lw 2 pt 5 title columnhead(3)
