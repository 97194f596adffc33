import FuzzDriver
import FuzzTargets

runFuzzer { data, count in FuzzTarget.csv.run(data, count) }
