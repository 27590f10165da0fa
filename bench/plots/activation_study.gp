# Activation study (issue 17; Crypto-Nets, arXiv 1412.6181): float, integer and encrypted test
# accuracy (YASHE' and BFV) of each activation and polynomial variant; missing bars (NaN) have
# no such form.
# Variables: dir (the folder of activation_study_plot.csv, written by cryptonets-reproduce).
set terminal pngcairo size 1100,720 font ',10'
set output dir.'/activation_study.png'
set datafile separator ','
set datafile missing 'NaN'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:115]
set ytics 0,20,100
set ylabel 'test accuracy (%)'
set grid ytics
set bmargin 12
set rmargin 12
set xtics rotate by -35 left font ',9'
set key top center horizontal
set title '5-layer networks: ReLU / sigmoid and their degree-2 polynomial fits (drop-in, fine-tuned)'
plot dir.'/activation_study_plot.csv' using 2:xtic(1) title columnhead(2) lc rgb '#4477aa', \
     '' using 3 title columnhead(3) lc rgb '#ccbb44', \
     '' using 4 title columnhead(4) lc rgb '#ee6677', \
     '' using 5 title columnhead(5) lc rgb '#228833'
