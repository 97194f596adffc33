import FuzzDriver
import FuzzTargets

runFuzzer { data, count in FuzzTarget.writers.run(data, count) }
