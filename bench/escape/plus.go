package escape

import (
	"go/ast"
	"go/parser"
	"go/token"
)

// plusOperands says what a + at file:line:col adds, read from the source: "string" for a
// concatenation, "number" for arithmetic (whose result escaping means it was boxed into an
// interface), "" when the syntax alone does not tell. The compiler prints an interface
// conversion as its operand, so `return n + 1000` in a function returning any and `a + b` of two
// strings give the same message; the operands' literals and declared types tell them apart.
func (ix *Index) plusOperands(file string, line, col int) string {
	f, fset := ix.parsed(file)
	if f == nil {
		return ""
	}
	var found *ast.BinaryExpr
	var fn *ast.FuncType
	var body ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if found != nil || n == nil {
			return false
		}
		switch x := n.(type) {
		case *ast.FuncDecl:
			fn, body = x.Type, x
		case *ast.FuncLit:
			p := fset.Position(x.Pos())
			e := fset.Position(x.End())
			if (p.Line < line || p.Line == line && p.Column <= col) && (e.Line > line || e.Line == line && e.Column >= col) {
				fn, body = x.Type, x
			}
		case *ast.BinaryExpr:
			if x.Op == token.ADD {
				p := fset.Position(x.OpPos)
				s := fset.Position(x.Pos())
				if p.Line == line && (p.Column == col || s.Column == col) {
					found = x
					return false
				}
			}
		}
		return true
	})
	if found == nil {
		return ""
	}
	return operandKind(found, fn, body)
}

// operandKind classifies one side of a sum: literals, conversions, and identifiers declared with
// an explicit basic type in the enclosing function's signature or body.
func operandKind(e ast.Expr, fn *ast.FuncType, body ast.Node) string {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return operandKind(x.X, fn, body)
	case *ast.BinaryExpr:
		if k := operandKind(x.X, fn, body); k != "" {
			return k
		}
		return operandKind(x.Y, fn, body)
	case *ast.BasicLit:
		if x.Kind == token.STRING {
			return "string"
		}
		return "number"
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok {
			return basicKind(id.Name)
		}
	case *ast.Ident:
		return identKind(x.Name, fn, body)
	}
	return ""
}

// basicKind is "string" or "number" for the name of a predeclared basic type, else "".
func basicKind(name string) string {
	switch name {
	case "string":
		return "string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
		"uintptr", "float32", "float64", "complex64", "complex128", "byte", "rune":
		return "number"
	}
	return ""
}

// identKind finds name's declared type among the function's parameters and results and its
// var declarations, and, for `name := literal`, the literal's kind.
func identKind(name string, fn *ast.FuncType, body ast.Node) string {
	fromFields := func(fl *ast.FieldList) string {
		if fl == nil {
			return ""
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				if n.Name == name {
					if t, ok := f.Type.(*ast.Ident); ok {
						return basicKind(t.Name)
					}
					return ""
				}
			}
		}
		return ""
	}
	if fn != nil {
		if k := fromFields(fn.Params); k != "" {
			return k
		}
		if k := fromFields(fn.Results); k != "" {
			return k
		}
	}
	kind := ""
	if body != nil {
		ast.Inspect(body, func(n ast.Node) bool {
			if kind != "" {
				return false
			}
			switch x := n.(type) {
			case *ast.ValueSpec:
				for i, id := range x.Names {
					if id.Name != name {
						continue
					}
					if t, ok := x.Type.(*ast.Ident); ok {
						kind = basicKind(t.Name)
					} else if i < len(x.Values) {
						if l, ok := x.Values[i].(*ast.BasicLit); ok {
							kind = operandKind(l, nil, nil)
						}
					}
				}
			case *ast.AssignStmt:
				if x.Tok != token.DEFINE {
					return true
				}
				for i, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == name && i < len(x.Rhs) {
						if lit, ok := x.Rhs[i].(*ast.BasicLit); ok {
							kind = operandKind(lit, nil, nil)
						}
					}
				}
			}
			return true
		})
	}
	return kind
}

// parsed parses file once.
func (ix *Index) parsed(file string) (*ast.File, *token.FileSet) {
	if p, ok := ix.asts[file]; ok {
		return p.f, p.fset
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		f = nil
	}
	ix.asts[file] = parsedFile{f, fset}
	return f, fset
}

type parsedFile struct {
	f    *ast.File
	fset *token.FileSet
}
