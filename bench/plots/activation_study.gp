# Activation study (issue 17): float test accuracy of each activation and polynomial variant.
# gnuplot -e "dir='bench/results/paper9'" bench/plots/activation_study.gp
set terminal pngcairo size 1000,700
set output dir.'/activation_study.png'
set datafile separator ','
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.8
set yrange [0:100]
set ylabel 'float test accuracy (%)'
set bmargin 14
set rmargin 18
set xtics rotate by -40 left font ',9'
set key off
set title '5-layer networks: ReLU / sigmoid, their degree-2 fits (drop-in, fine-tuned 2 epochs)'
plot dir.'/activation_study.csv' every ::1 using 3:xticlabels(stringcolumn(1).' '.stringcolumn(2)) lc rgb '#4477aa'
