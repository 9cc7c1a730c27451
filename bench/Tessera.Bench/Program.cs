// Core-engine micro-benchmarks. Each prints a JSON array so bench/core.sh can set it beside numpy's figures.
//   dotnet run -c Release --project bench/Tessera.Bench -- elementwise | executor | pool | train [mlp|cnn] [BATCH] [EPOCHS] [DIR] | profile [mlp|cnn] [BATCH] [STEPS] [DIR] | conv [BATCH] | overlap [DIR]
using Tessera.Bench;

return args.FirstOrDefault() switch
{
    "elementwise" => ElementwiseBenchmark.Run(),
    "executor" => ExecutorBenchmark.Run(),
    "pool" => BufferPoolBenchmark.Run(),
    "train" => TrainingBenchmark.Run(args),
    "profile" => TrainingProfile.Run(args),
    "conv" => ConvLayerBenchmark.Run(args),
    "convinfer" => InferenceConvBenchmark.Run(args),
    "convseq" => ConvSequenceBenchmark.Run(args),
    "overlap" => OverlapBenchmark.Run(args),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tessera.Bench elementwise | executor | pool | train [mlp|cnn] [BATCH] [EPOCHS] [DIR] | profile [mlp|cnn] [BATCH] [STEPS] [DIR] | conv [BATCH] | overlap [DIR]");
    return 2;
}
