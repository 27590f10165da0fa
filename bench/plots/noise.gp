# Noise budget left after each stage: measured (secret key) and predicted (keyless model).
# Variables: dir, ncols (columns of noise_plot.csv).
set datafile separator ','
set terminal pngcairo size 900,520 font ',10'
set output dir.'/noise.png'
set title 'Noise budget after each stage'
set ylabel 'bits left'
set grid
set key top right
set yrange [0:*]
set xtics rotate by -20
plot for [i=2:ncols] dir.'/noise_plot.csv' using 0:i:xtic(1) with linespoints lw 2 pt 7 \
     title columnhead(i)
