// The seeds' Gorgonia example in C#:
//   g := NewGraph(); x := NewScalar(g, Float64, WithName("x")); y := NewScalar(g, Float64, WithName("y"))
//   z := Add(x, y); machine := NewTapeMachine(g); Let(x, 2.0); Let(y, 2.5); machine.RunAll(); z.Value()
using Tessera;
using Tessera.Graphs;
using static Tessera.Graphs.Ops;

var g = new Graph();
var x = g.Scalar(DType.Float64, "x");
var y = g.Scalar(DType.Float64, "y");
var z = Add(x, y);

using var machine = new TapeMachine(g);
Graph.Let(x, 2.0);
Graph.Let(y, 2.5);
machine.RunAll();
Console.WriteLine($"z = x + y = {z.Value!.ToScalar()}");

// Symbolic gradients, as Gorgonia's Grad: dz/dx of z = x·x·y + y.
var w = x * x * y + y;
var grads = Autodiff.Grad(w, x, y);
machine.RunAll();
Console.WriteLine($"w = x²y + y = {w.Value!.ToScalar()}, dw/dx = {grads[0].Value!.ToScalar()}, dw/dy = {grads[1].Value!.ToScalar()}");
