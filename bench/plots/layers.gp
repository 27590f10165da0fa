# Per-stage time bars, one cluster per stage, one bar per configuration (preset, threads).
# Variables: dir (CSV/PNG folder), ncols (columns of layers_plot.csv).
set datafile separator ','
set terminal pngcairo size 1000,560 font ',10'
set output dir.'/layers.png'
set title 'CryptoNets stages, one batch (cf. paper Table 2)'
set ylabel 'wall-clock seconds'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set key top right
set xtics rotate by -20
set yrange [0:*]
plot for [i=2:ncols] dir.'/layers_plot.csv' using i:xtic(1) title columnhead(i)
