*SENSE:Minimize
NAME          time_indexed_tiny_2
ROWS
 N  total_completion_time
 E  assign_r0
 E  assign_r1
 L  memory_2
 L  memory_3
 L  twins_r0_r1
COLUMNS
    MARK      'MARKER'                 'INTORG'
    x_r0_0    assign_r0   1.000000000000e+00
    x_r0_0    memory_2   3.000000000000e+00
    x_r0_0    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r0_1    assign_r0   1.000000000000e+00
    x_r0_1    memory_2   2.000000000000e+00
    x_r0_1    memory_3   3.000000000000e+00
    x_r0_1    twins_r0_r1   1.000000000000e+00
    x_r0_1    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_0    assign_r1   1.000000000000e+00
    x_r1_0    memory_2   3.000000000000e+00
    x_r1_0    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_1    assign_r1   1.000000000000e+00
    x_r1_1    memory_2   2.000000000000e+00
    x_r1_1    memory_3   3.000000000000e+00
    x_r1_1    twins_r0_r1  -1.000000000000e+00
    x_r1_1    total_completion_time   3.000000000000e+00
    MARK      'MARKER'                 'INTEND'
RHS
    RHS       assign_r0   1.000000000000e+00
    RHS       assign_r1   1.000000000000e+00
    RHS       memory_2   5.000000000000e+00
    RHS       memory_3   5.000000000000e+00
    RHS       twins_r0_r1   0.000000000000e+00
BOUNDS
 BV BND       x_r0_0  
 BV BND       x_r0_1  
 BV BND       x_r1_0  
 BV BND       x_r1_1  
ENDATA
