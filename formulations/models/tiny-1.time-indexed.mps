*SENSE:Minimize
NAME          time_indexed_tiny_1
ROWS
 N  total_completion_time
 E  assign_r0
 E  assign_r1
 L  twins_r0_r1
COLUMNS
    MARK      'MARKER'                 'INTORG'
    x_r0_0    assign_r0   1.000000000000e+00
    x_r0_0    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
    MARK      'MARKER'                 'INTORG'
    x_r1_0    assign_r1   1.000000000000e+00
    x_r1_0    total_completion_time   2.000000000000e+00
    MARK      'MARKER'                 'INTEND'
RHS
    RHS       assign_r0   1.000000000000e+00
    RHS       assign_r1   1.000000000000e+00
    RHS       twins_r0_r1   0.000000000000e+00
BOUNDS
 BV BND       x_r0_0  
 BV BND       x_r1_0  
ENDATA
